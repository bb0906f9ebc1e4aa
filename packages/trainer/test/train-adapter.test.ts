import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveHyperparameters } from '@npo/contracts';
import { SafetensorsFile } from '@npo/graph';
import { latestCheckpoint, trainAdapter, type StepMetrics } from '../src/index.ts';
import { makePrepared, TINY_MODEL } from './helpers.ts';

// the fixture UNet has 4 input channels and no vae/: trained here on 4×8×8 latents made by makePrepared
const hp = resolveHyperparameters(
  { steps: 4, batch_pairs: 2, resolution: 8, checkpoint_every: 2, learning_rate: 1e-3, warmup_steps: 1, lora_rank: 4, lora_alpha: 4, seed: 5 },
  { method: 'npo', model: { pixelSpace: false, sampleSize: 32 } },
);

function scratch() {
  const dir = mkdtempSync(join(tmpdir(), 'npo-train-'));
  return { dir, prepared: makePrepared(join(dir, 'prepared'), [3, 2]), done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('trainAdapter: NPO steps in a worker thread, metrics each step, checkpoints every N, a PEFT adapter at the end', async () => {
  const s = scratch();
  try {
    const steps: StepMetrics[] = [];
    const phases: string[] = [];
    const ckpts: number[] = [];
    const r = await trainAdapter({
      modelDir: TINY_MODEL, preparedDir: s.prepared, method: 'npo', hyperparameters: hp, workDir: join(s.dir, 'work'), threads: 1,
      onPhase: (p) => void phases.push(p), onStep: (m) => void steps.push(m), onCheckpoint: async (c) => void ckpts.push(c.step),
    });
    assert.deepEqual(phases, ['compiling', 'training']);
    assert.deepEqual(steps.map((m) => m.step), [1, 2, 3, 4]);
    assert.ok(steps.every((m) => Number.isFinite(m.loss) && m.loss > 0 && m.implicit_acc >= 0 && m.implicit_acc <= 1 && m.grad_norm >= 0));
    assert.equal(steps[0].lr, 1e-3 * 1, 'warm-up of 1 step reaches the base rate at step 1');
    // the training process's peak so far: positive, and a high-water mark never goes down
    assert.ok(steps.every((m, i) => m.peak_rss_mb > 0 && m.step_ms > 0 && (i === 0 || m.peak_rss_mb >= steps[i - 1].peak_rss_mb)), JSON.stringify(steps.map((m) => m.peak_rss_mb)));
    assert.deepEqual(ckpts, [2, 4]);
    assert.equal(r.cancelled, false);
    assert.equal(r.steps, 4);
    const f = SafetensorsFile.open(r.finalAdapter!);
    assert.equal(f.tensors.size, 96);
    assert.ok(f.has('unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight'));
    assert.equal(f.metadata.method, 'npo');
    assert.equal(f.metadata.rank, '4');
    assert.equal(f.metadata.step, '4');
    assert.match(f.metadata.base_model_sha256, /^[0-9a-f]{64}$/);
    const B = f.read('unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight').data as Float32Array;
    assert.ok(B.some((x) => x !== 0), 'B moved away from its zero init');
  } finally {
    s.done();
  }
});

test('trainAdapter: stopping after step 2 and resuming gives the bit-identical adapter of an uninterrupted run', async () => {
  const s = scratch();
  try {
    const full = await trainAdapter({ modelDir: TINY_MODEL, preparedDir: s.prepared, method: 'npo', hyperparameters: hp, workDir: join(s.dir, 'a'), threads: 1 });
    const ac = new AbortController();
    const part = await trainAdapter({
      modelDir: TINY_MODEL, preparedDir: s.prepared, method: 'npo', hyperparameters: hp, workDir: join(s.dir, 'b'), threads: 1, signal: ac.signal,
      onStep: (m) => {
        if (m.step === 2) ac.abort();
      },
    });
    assert.equal(part.cancelled, true);
    assert.equal(part.finalAdapter, null);
    // The stop lands within one step of the request: resume from whatever checkpoint is the latest.
    const latest = latestCheckpoint(join(s.dir, 'b/checkpoints'));
    assert.ok(latest && latest.endsWith('step-2'), `latest checkpoint ${latest}`);
    const resumed = await trainAdapter({
      modelDir: TINY_MODEL, preparedDir: s.prepared, method: 'npo', hyperparameters: hp, workDir: join(s.dir, 'b'), threads: 1,
      resumeFromDir: latest,
    });
    assert.equal(resumed.steps, 4);
    const a = SafetensorsFile.open(full.finalAdapter!);
    const b = SafetensorsFile.open(resumed.finalAdapter!);
    for (const name of a.tensors.keys()) assert.deepEqual(b.read(name).data, a.read(name).data, name);
  } finally {
    s.done();
  }
});

test('trainAdapter with gradient_accumulation_steps 3: metrics and checkpoints count optimizer steps; a resumed run is bit-identical', async () => {
  const s = scratch();
  const acc = { ...hp, gradient_accumulation_steps: 3 };
  try {
    const steps: StepMetrics[] = [];
    const ckpts: number[] = [];
    const full = await trainAdapter({
      modelDir: TINY_MODEL, preparedDir: s.prepared, method: 'npo', hyperparameters: acc, workDir: join(s.dir, 'a'), threads: 1,
      onStep: (m) => void steps.push(m), onCheckpoint: async (c) => void ckpts.push(c.step),
    });
    assert.deepEqual(steps.map((m) => [m.step, m.total_steps]), [[1, 4], [2, 4], [3, 4], [4, 4]]);
    assert.ok(steps.every((m) => Number.isFinite(m.loss) && m.loss > 0 && m.grad_norm > 0 && Number.isFinite(m.model_mse)));
    assert.deepEqual(ckpts, [2, 4]);
    // The same run without accumulation draws different micro-batches, so its adapter differs.
    const plain = await trainAdapter({ modelDir: TINY_MODEL, preparedDir: s.prepared, method: 'npo', hyperparameters: hp, workDir: join(s.dir, 'p'), threads: 1 });
    const key = 'unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight';
    assert.notDeepEqual(SafetensorsFile.open(full.finalAdapter!).read(key).data, SafetensorsFile.open(plain.finalAdapter!).read(key).data);

    const ac = new AbortController();
    await trainAdapter({
      modelDir: TINY_MODEL, preparedDir: s.prepared, method: 'npo', hyperparameters: acc, workDir: join(s.dir, 'b'), threads: 1, signal: ac.signal,
      onStep: (m) => {
        if (m.step === 2) ac.abort();
      },
    });
    const latest = latestCheckpoint(join(s.dir, 'b/checkpoints'));
    assert.ok(latest && latest.endsWith('step-2'), `latest checkpoint ${latest}`);
    // A checkpoint of an accumulating run is refused by a run with another accumulation (its data position differs).
    await assert.rejects(
      trainAdapter({ modelDir: TINY_MODEL, preparedDir: s.prepared, method: 'npo', hyperparameters: hp, workDir: join(s.dir, 'b'), threads: 1, resumeFromDir: latest }),
      (e: Error & { code?: string }) => e.code === 'invalid_checkpoint',
    );
    const resumed = await trainAdapter({
      modelDir: TINY_MODEL, preparedDir: s.prepared, method: 'npo', hyperparameters: acc, workDir: join(s.dir, 'b'), threads: 1, resumeFromDir: latest,
    });
    assert.equal(resumed.steps, 4);
    const a = SafetensorsFile.open(full.finalAdapter!);
    const b = SafetensorsFile.open(resumed.finalAdapter!);
    for (const name of a.tensors.keys()) assert.deepEqual(b.read(name).data, a.read(name).data, name);
  } finally {
    s.done();
  }
});

test('trainAdapter: a suspend (worker shutdown) checkpoints the step reached, between interval checkpoints, and says suspended', async () => {
  const s = scratch();
  try {
    const suspend = new AbortController();
    const ckpts: [number, boolean][] = [];
    const r = await trainAdapter({
      modelDir: TINY_MODEL, preparedDir: s.prepared, method: 'npo', hyperparameters: { ...hp, steps: 8, checkpoint_every: 100 }, workDir: join(s.dir, 'w'), threads: 1, suspend: suspend.signal,
      onStep: (m) => {
        if (m.step === 3) suspend.abort();
      },
      onCheckpoint: async (c) => void ckpts.push([c.step, c.final]),
    });
    assert.equal(r.suspended, true);
    assert.equal(r.cancelled, false);
    assert.ok(r.steps >= 3 && r.steps < 8, `stopped at ${r.steps}`);
    assert.deepEqual(ckpts, [[r.steps, false]], 'one checkpoint, of the last step reached');
  } finally {
    s.done();
  }
});

test('trainAdapter: lora_targets choose the adapted modules; every checkpoint has the kohya export of the same tensors', async () => {
  const s = scratch();
  try {
    const files: string[][] = [];
    const r = await trainAdapter({
      modelDir: TINY_MODEL, preparedDir: s.prepared, method: 'npo', hyperparameters: { ...hp, steps: 2, lora_targets: 'all-linear' }, workDir: join(s.dir, 'w'), threads: 1,
      onCheckpoint: async (c) => void files.push(c.files.map((f) => f.split('/').pop()!)),
    });
    assert.deepEqual(files, [['adapter_model.safetensors', 'optimizer.safetensors', 'trainer_state.json', 'adapter_kohya.safetensors']]);
    const peft = SafetensorsFile.open(r.finalAdapter!);
    const kohya = SafetensorsFile.open(join(r.finalAdapter!, '..', 'adapter_kohya.safetensors'));
    assert.ok(peft.has('unet.time_embedding.linear_1.lora_A.weight') && peft.has('unet.up_blocks.1.resnets.0.time_emb_proj.lora_B.weight'));
    const unet = SafetensorsFile.open(join(TINY_MODEL, 'unet/diffusion_pytorch_model.safetensors'));
    const linears = [...unet.tensors.entries()].filter(([n, t]) => n.endsWith('.weight') && t.shape.length === 2).length;
    assert.equal(peft.tensors.size, 2 * linears, `every one of the ${linears} Linear layers`);
    assert.equal(JSON.parse(peft.metadata.targets), 'all-linear');
    assert.equal(kohya.tensors.size, 3 * linears);
    const B = 'up_blocks.0.attentions.1.transformer_blocks.0.ff.net.2';
    assert.deepEqual(kohya.read(`lora_unet_${B.replaceAll('.', '_')}.lora_up.weight`).data, peft.read(`unet.${B}.lora_B.weight`).data);

    const explicit = await trainAdapter({
      modelDir: TINY_MODEL, preparedDir: s.prepared, method: 'npo', hyperparameters: { ...hp, steps: 1, lora_targets: ['attn2.to_k', 'ff.net.0.proj'] }, workDir: join(s.dir, 'x'), threads: 1,
    });
    const keys = [...SafetensorsFile.open(explicit.finalAdapter!).tensors.keys()];
    assert.equal(keys.length, 2 * [...unet.tensors.keys()].filter((n) => /\.(attn2\.to_k|ff\.net\.0\.proj)\.weight$/.test(n)).length);
    assert.ok(keys.every((k) => /\.(attn2\.to_k|ff\.net\.0\.proj)\.lora_[AB]\.weight$/.test(k)));
    await assert.rejects(
      trainAdapter({ modelDir: TINY_MODEL, preparedDir: s.prepared, method: 'npo', hyperparameters: { ...hp, lora_targets: ['proj_in'] }, workDir: join(s.dir, 'y'), threads: 1 }),
      (err: Error & { code?: string }) => err.code === 'invalid_adapter' && /'proj_in' match no Linear module/.test(err.message),
    );
  } finally {
    s.done();
  }
});
