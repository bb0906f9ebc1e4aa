import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyTypeProvider, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { Static, TSchema } from 'typebox';

/**
 * Types a route's request (body, querystring, params, headers) and its reply from its TypeBox schemas, so handlers
 * read `request.body` as the schema says instead of casting. This is the type half of @fastify/type-provider-typebox
 * (6.x supports the `typebox` 1.x package we use); its runtime half, a validator compiler, is not wanted here (the
 * API keeps its two AJV instances, plugins/validation.ts), and a new dependency would have to reach every checkout's
 * node_modules first.
 */
export interface TypeBoxTypeProvider extends FastifyTypeProvider {
  validator: this['schema'] extends TSchema ? Static<this['schema']> : unknown;
  serializer: this['schema'] extends TSchema ? Static<this['schema']> : unknown;
}

/** The Fastify instance routes are declared on: schemas type the handlers. */
export type TypedApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

/**
 * The reply without its schema's typing, for the answers a response schema does not describe: an empty 204 and a
 * streamed file (the typed reply's send() wants a body of the schema's type).
 */
export const untypedReply = (reply: object): FastifyReply => reply as FastifyReply;
