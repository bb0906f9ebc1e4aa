import { Ajv } from 'ajv';
import type { FastifyInstance } from 'fastify';
import { Model, ModelList, ModelListQuery, IdParams, ErrorResponse, CreateModelFromS3 } from '@npo/contracts';
import type { AppDeps } from '../deps.ts';
import { tenantOf } from '../plugins/auth.ts';
import { readUpload } from './datasets.ts';
import * as models from '../services/models.ts';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 413: ErrorResponse, 415: ErrorResponse };

export function modelRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.post('/v1/models', {
    schema: {
      tags: ['models'],
      summary: 'Register a base model (diffusers layout): JSON {name, s3_prefix}, or multipart with a .tar or .tar.gz in "file"',
      consumes: ['application/json', 'multipart/form-data'],
      response: { 202: Model, ...errors },
    },
  }, async (request, reply) => {
    const tenant = tenantOf(request);
    reply.status(202);
    if (request.isMultipart()) return models.createModelFromUpload({ ...deps, maxUploadBytes: deps.config.maxUploadBytes }, tenant, await readUpload(request));
    const body = validateS3Body(request.body);
    return models.createModelFromS3(deps, tenant, body);
  });

  app.get('/v1/models', { schema: { tags: ['models'], querystring: ModelListQuery, response: { 200: ModelList, ...errors } } }, async (request) =>
    models.listModels(deps.db, tenantOf(request), request.query as { cursor?: string; limit?: number }));

  app.get('/v1/models/:id', { schema: { tags: ['models'], params: IdParams, response: { 200: Model, ...errors } } }, async (request) =>
    models.getModel(deps.db, tenantOf(request), (request.params as { id: string }).id));
}

// The route accepts two content types, so the JSON body is checked here against the same TypeBox schema.
const checkS3Body = new Ajv({ strict: false }).compile(CreateModelFromS3);
function validateS3Body(body: unknown): { name: string; s3_prefix: string } {
  if (!checkS3Body(body)) {
    const err = Object.assign(new Error('invalid body'), { validation: checkS3Body.errors, validationContext: 'body', statusCode: 400 });
    throw err;
  }
  return body as { name: string; s3_prefix: string };
}
