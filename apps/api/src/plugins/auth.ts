import type { FastifyInstance, FastifyRequest } from 'fastify';
import { UnauthorizedError } from '@npo/contracts';
import { findActiveKey, type Db } from '@npo/platform';

declare module 'fastify' {
  interface FastifyRequest { auth: { tenantId: string; keyId: string } | null }
}

/** Resolves `Authorization: Bearer <key>` on every /v1 route; routes read request.auth. */
export function registerAuth(app: FastifyInstance, db: Db): void {
  app.decorateRequest('auth', null);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    if (!request.url.startsWith('/v1/')) return;
    const header = request.headers.authorization;
    if (!header) throw new UnauthorizedError('missing Authorization header: send "Authorization: Bearer <api key>"', 'missing_api_key');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new UnauthorizedError('Authorization header must be "Bearer <api key>"', 'invalid_api_key');
    const found = await findActiveKey(db, match[1]);
    if (!found) throw new UnauthorizedError('API key is invalid or revoked', 'invalid_api_key');
    request.auth = found;
  });
}

export function tenantOf(request: FastifyRequest): string {
  if (!request.auth) throw new UnauthorizedError();
  return request.auth.tenantId;
}
