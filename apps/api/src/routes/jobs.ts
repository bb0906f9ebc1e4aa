import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import {
  CreateJob, Job, JobList, JobListQuery, JobEventList, MetricSeries, CheckpointList, CheckpointParams, IdParams, PageQuery, ErrorResponse,
  IDEMPOTENCY_KEY_PATTERN, type AdapterFormat,
} from '@npo/contracts';
import type { AppDeps } from '../deps.ts';
import { tenantOf } from '../plugins/auth.ts';
import * as jobs from '../services/jobs.ts';
import { streamJobEvents } from '../services/sse.ts';
import type { StreamRegistry } from '../services/sse-streams.ts';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 415: ErrorResponse, 429: ErrorResponse };
const idOf = (p: unknown) => (p as { id: string }).id;

export function jobRoutes(app: FastifyInstance, deps: AppDeps, streams: StreamRegistry): void {
  const jobDeps = { ...deps, redisKeyPrefix: deps.config.redisKeyPrefix, streams };

  app.post('/v1/jobs', {
    schema: {
      tags: ['jobs'], summary: 'Start a training job (honours Idempotency-Key)', body: CreateJob,
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ pattern: IDEMPOTENCY_KEY_PATTERN, description: '1 to 255 printable ASCII characters, no spaces' })) }),
      response: { 200: Job, 201: Job, ...errors },
    },
  }, async (request, reply) => {
    const key = request.headers['idempotency-key'] as string | undefined;
    const { job, created } = await jobs.createJob(jobDeps, tenantOf(request), request.body as CreateJob, key);
    reply.status(created ? 201 : 200);
    return job;
  });

  app.get('/v1/jobs', { schema: { tags: ['jobs'], querystring: JobListQuery, response: { 200: JobList, ...errors } } }, async (request) =>
    jobs.listJobs(deps.db, tenantOf(request), request.query as Record<string, any>));

  app.get('/v1/jobs/:id', { schema: { tags: ['jobs'], params: IdParams, response: { 200: Job, ...errors } } }, async (request) =>
    jobs.getJob(deps.db, tenantOf(request), idOf(request.params)));

  app.post('/v1/jobs/:id/cancel', { schema: { tags: ['jobs'], params: IdParams, response: { 200: Job, ...errors } } }, async (request) =>
    jobs.cancelJob(jobDeps, tenantOf(request), idOf(request.params)));

  app.get('/v1/jobs/:id/events', {
    schema: {
      tags: ['jobs'], summary: 'Job events: a page of JSON, or a live text/event-stream when Accept asks for it',
      params: IdParams, querystring: Type.Object({ ...PageQuery }), produces: ['application/json', 'text/event-stream'],
      // event ids are int8: a longer number is not one this API sent
      headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$' })) }),
      response: { 200: JobEventList, ...errors },
    },
  }, async (request, reply) => {
    const tenant = tenantOf(request);
    if ((request.headers.accept ?? '').includes('text/event-stream')) {
      await jobs.jobState(deps.db, tenant, idOf(request.params)); // 404 before the stream starts
      return streamJobEvents(jobDeps, request, reply, idOf(request.params));
    }
    return jobs.listEvents(deps.db, tenant, idOf(request.params), request.query as { cursor?: string; limit?: number });
  });

  app.get('/v1/jobs/:id/metrics', { schema: { tags: ['jobs'], params: IdParams, response: { 200: MetricSeries, ...errors } } }, async (request) =>
    jobs.metricSeries(deps.db, tenantOf(request), idOf(request.params)));

  app.get('/v1/jobs/:id/checkpoints', { schema: { tags: ['jobs'], params: IdParams, response: { 200: CheckpointList, ...errors } } }, async (request) =>
    jobs.listCheckpoints(deps.db, tenantOf(request), idOf(request.params)));

  app.get('/v1/jobs/:id/checkpoints/:step/download', {
    schema: {
      tags: ['jobs'], summary: 'Download a checkpoint adapter (PEFT, or kohya/A1111 naming with ?format=kohya): 302 to a presigned URL, or streamed with ?stream=1',
      params: CheckpointParams,
      querystring: Type.Object({
        stream: Type.Optional(Type.Union([Type.Literal('1'), Type.Literal('true'), Type.Literal('0'), Type.Literal('false')])),
        format: Type.Optional(Type.Union([Type.Literal('peft'), Type.Literal('kohya')], { description: 'peft (default): diffusers load_lora_weights; kohya: lora_unet_… names with .alpha, for kohya-ss tools and A1111' })),
      }),
      response: errors,
    },
  }, async (request, reply) => {
    const { id, step } = request.params as { id: string; step: number };
    const { stream, format } = request.query as { stream?: string; format?: AdapterFormat };
    const { key, filename } = await jobs.checkpointAdapterFile(deps.db, tenantOf(request), id, step, format);
    if (stream === '1' || stream === 'true') {
      const obj = await deps.storage.getStream(key);
      reply.header('content-type', 'application/octet-stream').header('content-disposition', `attachment; filename="${filename}"`);
      if (obj.size !== undefined) reply.header('content-length', obj.size);
      return reply.send(obj.body);
    }
    return reply.redirect(await deps.storage.presignGet(key, 300, filename), 302);
  });
}
