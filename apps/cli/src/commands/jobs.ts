import { JOB_STATES, type Job, type CreateJob } from '@npo/contracts';
import { PAGE_OPTIONS, integer, number, oneOf, pageQuery, printPage, required, str, type Command } from '../command.ts';
import { UsageError } from '../errors.ts';
import { parseHpPairs } from '../hyperparameters.ts';
import { println } from '../io.ts';
import { jobDetail, jobTable } from '../views.ts';

const jobPath = (id: string) => `/v1/jobs/${encodeURIComponent(id)}`;

export const jobCommands: Command[] = [
  {
    resource: 'jobs', action: 'create',
    synopsis: 'jobs create --model M --dataset ID [--method npo|dpo] [--steps N] [--lr X] [--beta X] [--rank N] [--pairs N] [--accumulate N] [--idempotency-key K] [--hp key=value ...]',
    summary: 'start a training job (npo by default); the same --idempotency-key twice gives the same job', args: [],
    options: {
      model: { type: 'string' }, dataset: { type: 'string' }, method: { type: 'string' }, steps: { type: 'string' }, lr: { type: 'string' },
      beta: { type: 'string' }, rank: { type: 'string' }, pairs: { type: 'string' }, accumulate: { type: 'string' }, 'idempotency-key': { type: 'string' }, hp: { type: 'string', multiple: true },
    },
    async run(ctx) {
      let hyperparameters: Record<string, unknown>;
      try {
        hyperparameters = parseHpPairs((ctx.values.hp as string[] | undefined) ?? []);
      } catch (err) {
        throw new UsageError((err as Error).message, ctx.usage);
      }
      // the named flags win over the same keys given with --hp
      const named = {
        steps: integer(ctx, 'steps', 1), learning_rate: number(ctx, 'lr'), beta: number(ctx, 'beta'), lora_rank: integer(ctx, 'rank', 1),
        batch_pairs: integer(ctx, 'pairs', 1), gradient_accumulation_steps: integer(ctx, 'accumulate', 1),
      };
      for (const [k, v] of Object.entries(named)) if (v !== undefined) hyperparameters[k] = v;
      const body: CreateJob = {
        model: required(ctx, 'model'), dataset: required(ctx, 'dataset'), method: oneOf(ctx, 'method', ['npo', 'dpo'] as const) ?? 'npo',
        ...(Object.keys(hyperparameters).length ? { hyperparameters: hyperparameters as CreateJob['hyperparameters'] } : {}),
      };
      const key = str(ctx, 'idempotency-key');
      const { status, body: job } = await ctx.client.json<Job>('POST', '/v1/jobs', { json: body, headers: key ? { 'idempotency-key': key } : {} });
      if (ctx.json) println(ctx.io.stdout, JSON.stringify(job, null, 2));
      else {
        println(ctx.io.stdout, status === 201 ? `created job ${job.id}: ${job.status}` : `job ${job.id} already exists for idempotency key "${key}": ${job.status}`);
        println(ctx.io.stdout, jobDetail(job));
      }
      return 0;
    },
  },
  {
    resource: 'jobs', action: 'get', synopsis: 'jobs get <id>', args: ['id'], summary: 'show a job: status, progress, latest metrics', options: {},
    async run(ctx) {
      const job = await ctx.client.get<Job>(jobPath(ctx.args[0]));
      println(ctx.io.stdout, ctx.json ? JSON.stringify(job, null, 2) : jobDetail(job));
      return 0;
    },
  },
  {
    resource: 'jobs', action: 'list', synopsis: 'jobs list [--status S] [--model M] [--dataset ID] [--limit N] [--cursor C]', args: [],
    summary: 'list your jobs, newest first',
    // --state: the deprecated name of --status, as the API's ?state= is of ?status=
    options: { status: { type: 'string' }, state: { type: 'string' }, model: { type: 'string' }, dataset: { type: 'string' }, ...PAGE_OPTIONS },
    async run(ctx) {
      const status = oneOf(ctx, 'status', JOB_STATES) ?? oneOf(ctx, 'state', JOB_STATES);
      const query = { ...pageQuery(ctx), status, model: str(ctx, 'model'), dataset: str(ctx, 'dataset') };
      const page = await ctx.client.get<{ data: Job[]; next_cursor: string | null }>('/v1/jobs', query);
      printPage(ctx, page, jobTable, 'no jobs');
      return 0;
    },
  },
  {
    resource: 'jobs', action: 'cancel', synopsis: 'jobs cancel <id>', args: ['id'],
    summary: 'cancel a job (a queued job at once; a running one stops at the next step: cancelling, then cancelled)', options: {},
    async run(ctx) {
      const { body: job } = await ctx.client.json<Job>('POST', `${jobPath(ctx.args[0])}/cancel`);
      println(ctx.io.stdout, ctx.json ? JSON.stringify(job, null, 2) : `job ${job.id}: ${job.status}`);
      return 0;
    },
  },
];

export { jobPath };
