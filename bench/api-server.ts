// Shared by the API benches: a fresh schema/prefix, the API as its own process (src/server.ts, pinned to one
// core with taskset when available), and a key and a job to read.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createApiKey, freePort, REPO_ROOT } from '@npo/platform';
import { newId } from '@npo/contracts';
import { createTestContext, type TestContext } from '../packages/platform/src/testing.ts';

export interface BenchServer { ctx: TestContext; base: string; key: string; jobId: string; pid: number; child: ChildProcess; close: () => Promise<void> }

const hasTaskset = (() => { try { execFileSync('taskset', ['-V'], { stdio: 'ignore' }); return true; } catch { return false; } })();

export async function startBenchServer(name: string, env: Record<string, string> = {}): Promise<BenchServer> {
  const ctx = await createTestContext(name, { RATE_LIMIT_MAX: '1000000000', ...env });
  const port = await freePort();
  const args = ['--import', 'tsx', 'apps/api/src/server.ts'];
  const child = hasTaskset
    ? spawn('taskset', ['-c', '0', process.execPath, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...ctx.env, PORT: String(port) }, stdio: 'ignore' })
    : spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, ...ctx.env, PORT: String(port) }, stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${base}/healthz`)).ok) break; } catch { /* starting */ }
    if (i > 300) throw new Error('API did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const { key, tenantId } = await createApiKey(ctx.db, 'bench');
  const model = newId('mdl');
  const dataset = newId('ds');
  const jobId = newId('job');
  await ctx.db.model.create({ data: { id: model, tenant_id: tenantId, name: 'm', source: 's3', s3_prefix: 'x', status: 'ready' } });
  await ctx.db.dataset.create({ data: { id: dataset, tenant_id: tenantId, name: 'd', format: 'parquet', status: 'ready', s3_key: 'x' } });
  await ctx.db.job.create({ data: { id: jobId, tenant_id: tenantId, model_id: model, dataset_id: dataset, method: 'npo', hyperparameters: { steps: 400 }, state: 'training', step: 120, total_steps: 400, latest_metrics: { step: 120, loss: 0.65, implicit_acc: 0.6, lr: 1e-5, grad_norm: 0.9, step_ms: 250 } } });
  // the child's pid is taskset's until it execs node: same pid
  return {
    ctx, base, key, jobId, pid: child.pid!, child,
    close: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await ctx.close();
    },
  };
}
