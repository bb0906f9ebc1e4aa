import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { Dataset, DatasetList, DatasetListQuery, IdParams, ErrorResponse, UnsupportedMediaTypeError, ValidationError, uploadFormProblem } from '@npo/contracts';
import type { AppDeps } from '../deps.ts';
import { tenantOf } from '../plugins/auth.ts';
import * as datasets from '../services/datasets.ts';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 413: ErrorResponse, 415: ErrorResponse };

/** Reads the multipart form up to its file part; fields sent before the file (name, format) come along. */
export async function readUpload(request: FastifyRequest) {
  if (!request.isMultipart()) throw new UnsupportedMediaTypeError('send multipart/form-data with the file in a "file" field', { content_type: request.headers['content-type'] ?? null });
  let part;
  try {
    part = await request.file();
  } catch (err) {
    // busboy's parse errors carry no status; a broken form is the client's mistake
    if ((err as { statusCode?: number }).statusCode) throw err;
    throw new ValidationError(`malformed multipart body: ${(err as Error).message}`, {}, 'malformed_multipart');
  }
  if (!part) throw new ValidationError('the form has no file part: put the file in a "file" field', { field: 'file' }, 'missing_file');
  const fields: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(part.fields)) {
    const f = Array.isArray(v) ? v[0] : v;
    if (f && f.type === 'field') fields[k] = String(f.value);
  }
  const problem = uploadFormProblem(part.filename, fields);
  if (problem) {
    part.file.resume(); // nothing is stored: drain the file so the request completes
    throw new ValidationError(problem.message, { field: problem.field });
  }
  return { filename: part.filename || 'upload', file: part.file, fields };
}

export function datasetRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.post('/v1/datasets', {
    schema: {
      tags: ['datasets'], summary: 'Upload a dataset (multipart: Pick-a-Pic .parquet, or .zip/.tar with pairs.jsonl)',
      consumes: ['multipart/form-data'], response: { 202: Dataset, ...errors },
    },
  }, async (request, reply) => {
    const upload = await readUpload(request);
    reply.status(202);
    return datasets.createDataset({ ...deps, maxUploadBytes: deps.config.maxUploadBytes }, tenantOf(request), upload);
  });

  app.get('/v1/datasets', { schema: { tags: ['datasets'], querystring: DatasetListQuery, response: { 200: DatasetList, ...errors } } }, async (request) =>
    datasets.listDatasets(deps.db, tenantOf(request), request.query as { cursor?: string; limit?: number; status?: string }));

  app.get('/v1/datasets/:id', { schema: { tags: ['datasets'], params: IdParams, response: { 200: Dataset, ...errors } } }, async (request) =>
    datasets.getDataset(deps.db, tenantOf(request), (request.params as { id: string }).id));

  app.delete('/v1/datasets/:id', { schema: { tags: ['datasets'], params: IdParams, response: { 204: Type.Null(), ...errors } } }, async (request, reply) => {
    await datasets.deleteDataset(deps, tenantOf(request), (request.params as { id: string }).id);
    reply.status(204).send();
  });
}
