import { Type } from 'typebox';
import { Dataset, DatasetList, DatasetListQuery, IdParams, ErrorResponse } from '@npo/contracts';
import { untypedReply, type TypedApp } from '../plugins/type-provider.ts';
import { tenantOf } from '../plugins/auth.ts';
import type { DatasetService } from '../services/datasets.ts';
import { readUpload } from './read-upload.ts';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 413: ErrorResponse, 415: ErrorResponse };

export function datasetRoutes(app: TypedApp, datasets: DatasetService): void {
  app.post('/datasets', {
    schema: {
      tags: ['datasets'], summary: 'Upload a dataset (multipart: Pick-a-Pic .parquet, or .zip/.tar with pairs.jsonl)',
      consumes: ['multipart/form-data'], response: { 202: Dataset, ...errors },
    },
  }, async (request, reply) => {
    const upload = await readUpload(request);
    reply.status(202);
    return datasets.create(tenantOf(request), upload);
  });

  app.get('/datasets', { schema: { tags: ['datasets'], querystring: DatasetListQuery, response: { 200: DatasetList, ...errors } } }, async (request) =>
    datasets.list(tenantOf(request), request.query));

  app.get('/datasets/:id', { schema: { tags: ['datasets'], params: IdParams, response: { 200: Dataset, ...errors } } }, async (request) =>
    datasets.get(tenantOf(request), request.params.id));

  app.delete('/datasets/:id', { schema: { tags: ['datasets'], params: IdParams, response: { 204: Type.Null(), ...errors } } }, async (request, reply) => {
    await datasets.remove(tenantOf(request), request.params.id);
    untypedReply(reply).status(204).send();
  });
}
