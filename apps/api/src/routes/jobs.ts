import { Type } from 'typebox';
import {
  CreateJob, Job, JobList, JobListQuery, JobEventList, MetricSeries, CheckpointList, CheckpointParams, IdParams, PageQuery, ErrorResponse,
  IDEMPOTENCY_KEY_PATTERN,
} from '@npo/contracts';
import { untypedReply, type TypedApp } from '../plugins/type-provider.ts';
import { tenantOf } from '../plugins/auth.ts';
import type { JobService } from '../services/jobs.ts';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 415: ErrorResponse, 429: ErrorResponse };

export function jobRoutes(app: TypedApp, jobs: JobService): void {
  app.post('/jobs', {
    schema: {
      tags: ['jobs'], summary: 'Start a training job (honours Idempotency-Key)', body: CreateJob,
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ pattern: IDEMPOTENCY_KEY_PATTERN, description: '1 to 255 printable ASCII characters, no spaces' })) }),
      response: { 200: Job, 201: Job, ...errors },
    },
  }, async (request, reply) => {
    const { job, created } = await jobs.create(tenantOf(request), request.body, request.headers['idempotency-key']);
    reply.status(created ? 201 : 200);
    return job;
  });

  app.get('/jobs', { schema: { tags: ['jobs'], querystring: JobListQuery, response: { 200: JobList, ...errors } } }, async (request) =>
    jobs.list(tenantOf(request), request.query));

  app.get('/jobs/:id', { schema: { tags: ['jobs'], params: IdParams, response: { 200: Job, ...errors } } }, async (request) =>
    jobs.get(tenantOf(request), request.params.id));

  app.post('/jobs/:id/cancel', { schema: { tags: ['jobs'], params: IdParams, response: { 200: Job, ...errors } } }, async (request) =>
    jobs.cancel(tenantOf(request), request.params.id));

  app.get('/jobs/:id/events', {
    schema: {
      tags: ['jobs'], summary: 'Job events: a page of JSON, or a live text/event-stream when Accept asks for it',
      params: IdParams, querystring: Type.Object({ ...PageQuery }), produces: ['application/json', 'text/event-stream'],
      // event ids are int8: a longer number is not one this API sent
      headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$' })) }),
      response: { 200: JobEventList, ...errors },
    },
  }, async (request, reply) => {
    if ((request.headers.accept ?? '').includes('text/event-stream')) return jobs.streamEvents(tenantOf(request), request.params.id, request, reply);
    return jobs.listEvents(tenantOf(request), request.params.id, request.query);
  });

  app.get('/jobs/:id/metrics', { schema: { tags: ['jobs'], params: IdParams, response: { 200: MetricSeries, ...errors } } }, async (request) =>
    jobs.metricSeries(tenantOf(request), request.params.id));

  app.get('/jobs/:id/checkpoints', { schema: { tags: ['jobs'], params: IdParams, response: { 200: CheckpointList, ...errors } } }, async (request) =>
    jobs.listCheckpoints(tenantOf(request), request.params.id));

  app.get('/jobs/:id/checkpoints/:step/download', {
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
    const { stream, format } = request.query;
    const download = await jobs.checkpointDownload(tenantOf(request), request.params.id, request.params.step, { format, stream: stream === '1' || stream === 'true' });
    if (!download.object) return reply.redirect(download.url, 302);
    const file = untypedReply(reply).header('content-type', 'application/octet-stream').header('content-disposition', `attachment; filename="${download.filename}"`);
    if (download.object.size !== undefined) file.header('content-length', download.object.size);
    return file.send(download.object.body);
  });
}
