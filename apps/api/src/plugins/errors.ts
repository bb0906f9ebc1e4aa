import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DependencyUnavailableError, NpoError, type ErrorBody } from '@npo/contracts';

// Maps every error to {error: {code, message, details}} with a stable code. Client mistakes (bad JSON, wrong
// content type, oversize bodies, schema violations) are 4xx; only our own bugs and outages are 5xx.
interface AjvIssue { instancePath?: string; message?: string; keyword?: string; params?: Record<string, unknown> }

export function fieldOf(issue: AjvIssue, part: string): string {
  const path = (issue.instancePath ?? '').split('/').filter(Boolean).join('.');
  const missing = issue.keyword === 'required' ? String(issue.params?.missingProperty ?? '') : '';
  const extra = issue.keyword === 'additionalProperties' ? String(issue.params?.additionalProperty ?? '') : '';
  return [part, path, missing || extra].filter(Boolean).join('.');
}

function describe(issue: AjvIssue, field: string): string {
  if (issue.keyword === 'required') return `${field} is required`;
  if (issue.keyword === 'additionalProperties') return `${field} is not a known field`;
  return `${field} ${issue.message ?? 'is invalid'}`;
}

const BY_FASTIFY_CODE: Record<string, { status: number; code: string; message?: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'bad_request' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'malformed_json', message: 'the JSON body is empty' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large' },
  FST_REQ_FILE_TOO_LARGE: { status: 413, code: 'payload_too_large' },
  FST_PARTS_LIMIT: { status: 413, code: 'payload_too_large' },
  FST_FILES_LIMIT: { status: 413, code: 'payload_too_large' },
  FST_FIELDS_LIMIT: { status: 413, code: 'payload_too_large' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { status: 415, code: 'unsupported_media_type' },
  FST_PROTO_VIOLATION: { status: 400, code: 'bad_request' },
  FST_ERR_VALIDATION: { status: 400, code: 'validation_error' },
  // the router's own refusals (frameworkErrors): their messages echo the path, so ours replace them
  FST_ERR_BAD_URL: { status: 400, code: 'bad_url', message: 'the URL path holds a malformed percent-encoding' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'param_too_long', message: 'a path parameter is longer than 100 characters (ids are at most 100)' },
};

export function toErrorResponse(err: FastifyError & { validation?: AjvIssue[]; validationContext?: string }): { status: number; body: ErrorBody } {
  if (err instanceof NpoError) return { status: err.status, body: err.toBody() };
  if (err.validation) {
    const part = err.validationContext ?? 'body';
    const issues = err.validation.map((i) => {
      const field = fieldOf(i, part);
      return { field, message: describe(i, field) };
    });
    return {
      status: 400,
      body: { error: { code: 'validation_error', message: issues[0]?.message ?? 'invalid request', details: { field: issues[0]?.field, issues } } },
    };
  }
  if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return { status: 400, body: { error: { code: 'malformed_json', message: `the body is not valid JSON: ${err.message}`, details: {} } } };
  }
  const known = err.code ? BY_FASTIFY_CODE[err.code] : undefined;
  if (known) return { status: known.status, body: { error: { code: known.code, message: known.message ?? err.message, details: {} } } };
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return { status, body: { error: { code: status === 429 ? 'rate_limited' : 'bad_request', message: err.message, details: {} } } };
  }
  return { status: 500, body: { error: { code: 'internal_error', message: 'internal error', details: {} } } };
}

/** Fastify's `frameworkErrors` option: router refusals (bad percent-encoding, over-long params) in the same envelope. */
export function frameworkErrors(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = toErrorResponse(err);
  reply.status(status).send(body);
}

export function registerErrorHandling(app: FastifyInstance, o: { dependencyDown?: () => boolean } = {}): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    // a request that was under way when Redis went away fails in whatever command it was running: an outage, 503
    const { status, body } = toErrorResponse(o.dependencyDown?.() && !(err instanceof NpoError) && !err.statusCode ? new DependencyUnavailableError('redis') : err);
    if (status >= 500) request.log.error({ err }, 'request failed');
    reply.status(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({ error: { code: 'route_not_found', message: `no route ${request.method} ${request.url.split('?')[0]}`, details: {} } });
  });
}
