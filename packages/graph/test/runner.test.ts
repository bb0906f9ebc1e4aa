// Session over onnxruntime-node: CPU runs; a missing CUDA provider fails loudly with install instructions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../src/graph.ts';
import * as o from '../src/ops.ts';
import { ExecutionProviderError } from '../src/execution-provider.ts';
import { Session } from '../src/runner.ts';
import { serialize } from '../src/serialize.ts';
import { f32 } from './helpers.ts';

function model() {
  const g = new Graph();
  const x = g.input('x', 'float32', [2, 2]);
  const ids = g.input('ids', 'int64', [3]);
  g.output('y', o.add(o.mul(x, 2), 1));
  g.output('picked', o.gather(o.reshape(x, [4]), ids));
  g.output('flag', o.greater(x, 0));
  return serialize(g);
}

test('a CPU session runs float, int64 and bool tensors and can select outputs', async () => {
  for (const optimization of ['disabled', 'all'] as const) {
    const s = await Session.create(model(), { optimization, threads: 2 });
    assert.equal(s.provider, 'cpu');
    assert.deepEqual([...s.inputNames].sort(), ['ids', 'x']);
    const feeds = { x: f32([2, 2], [1, -2, 3, -4]), ids: { dtype: 'int64' as const, shape: [3], data: BigInt64Array.from([3n, 0n, 3n]) } };
    const res = await s.run(feeds);
    assert.deepEqual([...res.y.data], [3, -3, 7, -7]);
    assert.deepEqual([...res.picked.data], [-4, 1, -4]);
    assert.equal(res.flag.dtype, 'bool');
    assert.deepEqual([...res.flag.data], [1, 0, 1, 0]);
    const only = await s.run(feeds, ['y']);
    assert.deepEqual(Object.keys(only), ['y']);
    await s.release();
  }
});

test('requesting cuda where a CUDA library cannot be loaded fails naming the library and where it was looked for, no silent CPU fallback', async (t) => {
  let session: Session | undefined;
  try {
    session = await Session.create(model(), { executionProvider: 'cuda' });
  } catch (e) {
    assert.ok(e instanceof ExecutionProviderError, `got ${(e as Error).name}: ${(e as Error).message}`);
    assert.equal(e.code, 'execution_provider_unavailable');
    assert.match(e.message, /no fallback to CPU/);
    assert.match(e.message, /not found in .*:\n +lib\S+\.so[.\d]* \(needed by /);
    return;
  }
  // Only reachable on a machine where the CUDA provider is installed: then it must really be a CUDA session.
  assert.equal(session.provider, 'cuda');
  await session.release();
  t.diagnostic('CUDA provider present on this machine: the missing-provider path was not exercised');
});
