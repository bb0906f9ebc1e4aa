import cliProgress from 'cli-progress';
import { TERMINAL_STATES, type Job } from '@npo/contracts';
import { number, type Command, type Context } from '../command.ts';
import { CliError } from '../errors.ts';
import { println } from '../io.ts';
import { fixed, seconds } from '../format.ts';
import { jobDetail, progressOf, progressText } from '../views.ts';
import { jobPath } from './jobs.ts';

export const jobWaitCommand: Command = {
  resource: 'jobs', action: 'wait', synopsis: 'jobs wait <id> [--interval SECONDS]', args: ['id'],
  summary: 'follow a job to its end with a progress bar (plain lines when not a terminal); exit 0 only if it succeeded',
  options: { interval: { type: 'string' } },
  async run(ctx) {
    const intervalMs = 1000 * (number(ctx, 'interval') ?? 1);
    const view = ctx.io.stdout.isTTY && !ctx.json ? barView(ctx) : lineView(ctx);
    let job: Job;
    for (;;) {
      job = await ctx.client.get<Job>(jobPath(ctx.args[0]));
      view.update(job);
      if (TERMINAL_STATES.includes(job.status)) break;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
    view.stop();
    if (ctx.json) println(ctx.io.stdout, JSON.stringify(job, null, 2));
    else println(ctx.io.stdout, jobDetail(job));
    if (job.status === 'succeeded') return 0;
    if (job.status === 'failed') throw new CliError('job_failed', `job ${job.id} failed${job.error ? `: ${job.error.code}: ${job.error.message}` : ''}`, { job: job.id, ...(job.error ?? {}) });
    throw new CliError('job_cancelled', `job ${job.id} was cancelled`, { job: job.id });
  },
};

interface View { update: (job: Job) => void; stop: () => void }

const payload = (j: Job) => ({ status: j.status, unit: progressOf(j).unit, remaining: seconds(progressOf(j).eta_seconds), loss: fixed(j.metrics?.loss, 4), acc: fixed(j.metrics?.implicit_acc, 3) });

/** A terminal: one redrawn bar with the API's percent, ETA, loss and implicit accuracy. */
function barView(ctx: Context): View {
  const bar = new cliProgress.SingleBar({
    format: '{status} [{bar}] {percentage}% | {value}/{total} {unit} | ETA {remaining} | loss {loss} | implicit acc {acc}',
    stream: ctx.io.stdout, hideCursor: true, clearOnComplete: false,
  }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    update(j) {
      const p = progressOf(j);
      const total = Math.max(1, p.total ?? p.done);
      if (!started) { bar.start(total, p.done, payload(j)); started = true; }
      bar.setTotal(total);
      bar.update(p.done, payload(j));
    },
    stop: () => { if (started) bar.stop(); },
  };
}

/** A pipe or a log: a line when the status changes or progress moves by a tenth, so logs stay short. */
function lineView(ctx: Context): View {
  let lastStatus = '';
  let lastDone = -1;
  return {
    update(j) {
      if (ctx.json) return; // --json prints only the final job
      const { done, total } = progressOf(j);
      const tenth = Math.max(1, Math.floor((total ?? 0) / 10));
      if (j.status === lastStatus && done - lastDone < tenth && !TERMINAL_STATES.includes(j.status)) return;
      if (j.status === lastStatus && done === lastDone) return;
      const p = payload(j);
      println(ctx.io.stdout, `${j.status}: ${progressText(j)}, ETA ${p.remaining}, loss ${p.loss}, implicit acc ${p.acc}`);
      lastStatus = j.status;
      lastDone = done;
    },
    stop: () => {},
  };
}
