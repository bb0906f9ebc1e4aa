// A worker configured for cuda where onnxruntime's CUDA provider cannot load exits at start, naming the library
// and where it was looked for; it takes no job and never falls back to CPU.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createTestContext, type TestContext } from '../../../packages/platform/src/testing.ts';
import { tryLoadLibrary } from '../../../packages/graph/src/cuda/native-library.ts';

const ROOT = new URL('../../..', import.meta.url).pathname;
let ctx: TestContext;
before(async () => {
  ctx = await createTestContext('worker-provider');
});
after(async () => {
  await ctx?.close();
});

test('EXECUTION_PROVIDER=cuda without a loadable CUDA provider: the worker exits at start with the missing library named', { timeout: 120_000 }, (t) => {
  if (tryLoadLibrary('libcuda.so.1').loaded) return t.skip('this machine has an NVIDIA driver');
  const env: NodeJS.ProcessEnv = { ...process.env, ...ctx.env, EXECUTION_PROVIDER: 'cuda', LOG_LEVEL: 'silent' };
  delete env.LD_LIBRARY_PATH;
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'apps/worker/src/main.ts'], { cwd: ROOT, env, encoding: 'utf8', timeout: 100_000 });
  assert.equal(r.status, 1, `exit ${r.status} signal ${r.signal}\n${r.stderr}`);
  assert.match(r.stderr, /ExecutionProviderError: EXECUTION_PROVIDER is cuda, but onnxruntime's CUDA provider cannot be loaded \(no fallback to CPU\)/);
  assert.match(r.stderr, /not found in .*:\n +lib\S+ \(needed by \S+\): /);
});
