import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { CreateJobSamples, CreateModelSamples, SampleSet, SampleSetList, IdParams, ErrorResponse, ResourceId } from '@npo/contracts';
import type { AppDeps } from '../deps.ts';
import { tenantOf } from '../plugins/auth.ts';
import * as samples from '../services/samples.ts';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 415: ErrorResponse, 429: ErrorResponse };
const idOf = (p: unknown) => (p as { id: string }).id;

export function sampleRoutes(app: FastifyInstance, deps: AppDeps): void {
  const sampleDeps = { ...deps, redisKeyPrefix: deps.config.redisKeyPrefix };

  app.post('/v1/jobs/:id/samples', {
    schema: {
      tags: ['samples'], summary: "Sample base vs the job's adapter (queued on a worker; poll GET /v1/samples/{id})",
      params: IdParams, body: CreateJobSamples, response: { 202: SampleSet, ...errors },
    },
  }, async (request, reply) => {
    reply.status(202);
    return samples.createJobSamples(sampleDeps, tenantOf(request), idOf(request.params), request.body as CreateJobSamples);
  });

  app.post('/v1/models/:id/samples', {
    schema: {
      tags: ['samples'], summary: 'Sample a base model alone (queued on a worker; poll GET /v1/samples/{id})',
      params: IdParams, body: CreateModelSamples, response: { 202: SampleSet, ...errors },
    },
  }, async (request, reply) => {
    reply.status(202);
    return samples.createModelSamples(sampleDeps, tenantOf(request), idOf(request.params), request.body as CreateModelSamples);
  });

  app.get('/v1/jobs/:id/samples', {
    schema: { tags: ['samples'], summary: "A job's sample sets: requests, its preview grid, its validation grids", params: IdParams, response: { 200: SampleSetList, ...errors } },
  }, async (request) => samples.listJobSampleSets(deps, tenantOf(request), idOf(request.params)));

  app.get('/v1/samples/:id', { schema: { tags: ['samples'], params: IdParams, response: { 200: SampleSet, ...errors } } }, async (request) =>
    samples.getSampleSet(deps, tenantOf(request), idOf(request.params)));

  app.post('/v1/samples/:id/cancel', { schema: { tags: ['samples'], params: IdParams, response: { 200: SampleSet, ...errors } } }, async (request) =>
    samples.cancelSampleSet(sampleDeps, tenantOf(request), idOf(request.params)));

  app.get('/v1/samples/:id/files/:name', {
    schema: {
      tags: ['samples'], summary: 'Download one PNG of a sample set (grid.png or an image name): 302 to a presigned URL',
      params: Type.Object({ id: ResourceId(), name: Type.String({ pattern: '^[A-Za-z0-9._-]{1,100}$' }) }),
      response: errors,
    },
  }, async (request, reply) => {
    const { id, name } = request.params as { id: string; name: string };
    const key = await samples.sampleFileKey(deps.db, tenantOf(request), id, name);
    return reply.redirect(await deps.storage.presignGet(key, 300, `${id}-${name}`), 302);
  });
}
