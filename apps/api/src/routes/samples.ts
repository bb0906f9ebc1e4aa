import { Type } from 'typebox';
import { CreateJobSamples, CreateModelSamples, SampleSet, SampleSetList, IdParams, ErrorResponse, ResourceId } from '@npo/contracts';
import type { TypedApp } from '../plugins/type-provider.ts';
import { tenantOf } from '../plugins/auth.ts';
import type { SampleService } from '../services/samples.ts';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 415: ErrorResponse, 429: ErrorResponse };

export function sampleRoutes(app: TypedApp, samples: SampleService): void {
  app.post('/jobs/:id/samples', {
    schema: {
      tags: ['samples'], summary: "Sample base vs the job's adapter (queued on a worker; poll GET /v1/samples/{id})",
      params: IdParams, body: CreateJobSamples, response: { 202: SampleSet, ...errors },
    },
  }, async (request, reply) => {
    reply.status(202);
    return samples.createForJob(tenantOf(request), request.params.id, request.body);
  });

  app.post('/models/:id/samples', {
    schema: {
      tags: ['samples'], summary: 'Sample a base model alone (queued on a worker; poll GET /v1/samples/{id})',
      params: IdParams, body: CreateModelSamples, response: { 202: SampleSet, ...errors },
    },
  }, async (request, reply) => {
    reply.status(202);
    return samples.createForModel(tenantOf(request), request.params.id, request.body);
  });

  app.get('/jobs/:id/samples', {
    schema: { tags: ['samples'], summary: "A job's sample sets: requests, its preview grid, its validation grids", params: IdParams, response: { 200: SampleSetList, ...errors } },
  }, async (request) => samples.listOfJob(tenantOf(request), request.params.id));

  app.get('/samples/:id', { schema: { tags: ['samples'], params: IdParams, response: { 200: SampleSet, ...errors } } }, async (request) =>
    samples.get(tenantOf(request), request.params.id));

  app.post('/samples/:id/cancel', { schema: { tags: ['samples'], params: IdParams, response: { 200: SampleSet, ...errors } } }, async (request) =>
    samples.cancel(tenantOf(request), request.params.id));

  app.get('/samples/:id/files/:name', {
    schema: {
      tags: ['samples'], summary: 'Download one PNG of a sample set (grid.png or an image name): 302 to a presigned URL',
      params: Type.Object({ id: ResourceId(), name: Type.String({ pattern: '^[A-Za-z0-9._-]{1,100}$' }) }),
      response: errors,
    },
  }, async (request, reply) => reply.redirect(await samples.fileUrl(tenantOf(request), request.params.id, request.params.name), 302));
}
