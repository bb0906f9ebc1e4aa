// The `precision` hyperparameter in the trainer: fp16 trains on a CPU worker (onnxruntime casts around the float16
// nodes), keeping the adapter and optimizer state float32; bf16 is refused on CPU before anything is compiled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrecisionUnsupportedError, resolveHyperparameters } from '@npo/contracts';
import { SafetensorsFile } from '@npo/graph';
import { trainAdapter, type StepMetrics } from '../src/index.ts';
import { makePrepared, TINY_MODEL } from './helpers.ts';

const hp = resolveHyperparameters(
  { steps: 2, batch_pairs: 2, resolution: 8, checkpoint_every: 2, learning_rate: 1e-3, warmup_steps: 1, lora_rank: 4, lora_alpha: 4, seed: 5 },
  { method: 'npo', model: { pixelSpace: false, sampleSize: 32 } },
);

test('precision defaults to fp32; fp16 trains on CPU with float32 adapter and optimizer state, same first loss as fp32', async () => {
  assert.equal(hp.precision, 'fp32');
  const dir = mkdtempSync(join(tmpdir(), 'npo-train-fp16-'));
  try {
    const prepared = makePrepared(join(dir, 'prepared'), [3, 2]);
    const run = async (precision: 'fp32' | 'fp16') => {
      const steps: StepMetrics[] = [];
      const r = await trainAdapter({
        modelDir: TINY_MODEL, preparedDir: prepared, method: 'npo', hyperparameters: { ...hp, precision }, workDir: join(dir, precision), threads: 1,
        onStep: (m) => void steps.push(m),
      });
      return { r, steps };
    };
    const f32 = await run('fp32');
    const f16 = await run('fp16');
    assert.deepEqual(f16.steps.map((m) => m.step), [1, 2]);
    assert.ok(f16.steps.every((m) => Number.isFinite(m.loss) && Number.isFinite(m.grad_norm) && m.grad_norm > 0));
    // B starts at zero: the adapted UNet is the reference, in fp16 as in fp32, so the first NPO loss is log 2 in both
    assert.ok(Math.abs(f16.steps[0].loss - f32.steps[0].loss) < 1e-6, `${f16.steps[0].loss} vs ${f32.steps[0].loss}`);
    // a 16-bit precision keys the step graph: an fp32 checkpoint is not resumed under fp16, nor the reverse
    const stateOf = (adapterPath: string) => JSON.parse(readFileSync(join(adapterPath, '..', 'trainer_state.json'), 'utf8')).step_graph_hash;
    assert.notEqual(stateOf(f16.r.finalAdapter!), stateOf(f32.r.finalAdapter!));
    const adapter = SafetensorsFile.open(f16.r.finalAdapter!);
    assert.ok([...adapter.tensors.values()].every((t) => t.dtype === 'float32'));
    const optimizer = SafetensorsFile.open(join(f16.r.finalAdapter!, '..', 'optimizer.safetensors'));
    assert.ok([...optimizer.tensors.values()].every((t) => t.dtype === 'float32'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bf16 on a CPU worker: precision_unsupported naming the provider, before compiling', async () => {
  const phases: string[] = [];
  await assert.rejects(
    trainAdapter({ modelDir: TINY_MODEL, preparedDir: '/nonexistent', method: 'npo', hyperparameters: { ...hp, precision: 'bf16' }, workDir: '/nonexistent', onPhase: (p) => void phases.push(p) }),
    (e: unknown) => e instanceof PrecisionUnsupportedError && e.code === 'precision_unsupported' && /on the cpu execution provider/.test(e.message),
  );
  assert.deepEqual(phases, []);
});
