import { Ajv } from 'ajv';
import { Model, ModelList, ModelListQuery, IdParams, ErrorResponse, CreateModelFromS3 } from '@npo/contracts';
import type { TypedApp } from '../plugins/type-provider.ts';
import { tenantOf } from '../plugins/auth.ts';
import type { ModelService } from '../services/models.ts';
import { readUpload } from './read-upload.ts';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 413: ErrorResponse, 415: ErrorResponse };

export function modelRoutes(app: TypedApp, models: ModelService): void {
  app.post('/models', {
    schema: {
      tags: ['models'],
      summary: 'Register a base model (diffusers layout): JSON {name, s3_prefix}, or multipart with a .tar or .tar.gz in "file"',
      consumes: ['application/json', 'multipart/form-data'],
      response: { 202: Model, ...errors },
    },
  }, async (request, reply) => {
    const tenant = tenantOf(request);
    reply.status(202);
    if (request.isMultipart()) return models.createFromUpload(tenant, await readUpload(request));
    return models.createFromS3(tenant, validateS3Body(request.body));
  });

  app.get('/models', { schema: { tags: ['models'], querystring: ModelListQuery, response: { 200: ModelList, ...errors } } }, async (request) =>
    models.list(tenantOf(request), request.query));

  app.get('/models/:id', { schema: { tags: ['models'], params: IdParams, response: { 200: Model, ...errors } } }, async (request) =>
    models.get(tenantOf(request), request.params.id));
}

// The route accepts two content types, so the JSON body is checked here against the same TypeBox schema.
const checkS3Body = new Ajv({ strict: false }).compile<CreateModelFromS3>(CreateModelFromS3);
function validateS3Body(body: unknown): CreateModelFromS3 {
  if (!checkS3Body(body)) {
    const err = Object.assign(new Error('invalid body'), { validation: checkS3Body.errors, validationContext: 'body', statusCode: 400 });
    throw err;
  }
  return body;
}
