import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile, writeSafetensors } from '@npo/graph';
import { DEFAULT_TARGETS, findTargetModules, initLora, LoraError, loadLora, saveLora, WeightSource } from '../src/index.ts';

const WEIGHTS = join(import.meta.dirname, 'fixtures/tiny-unet/unet/diffusion_pytorch_model.safetensors');

test('new adapters: every to_q/to_k/to_v/to_out.0, A ~ N(0, 1/in), B = 0, seeded', () => {
  const w = WeightSource.fromSafetensors(WEIGHTS);
  const modules = findTargetModules(w, DEFAULT_TARGETS);
  assert.equal(modules.length, 48);
  assert.ok(modules.every((m) => /\.(to_q|to_k|to_v|to_out\.0)$/.test(m)));
  const a = initLora(w, { rank: 4, alpha: 8, targets: DEFAULT_TARGETS }, 1);
  const b = initLora(w, { rank: 4, alpha: 8, targets: DEFAULT_TARGETS }, 1);
  const q = a.modules.get('mid_block.attentions.0.transformer_blocks.0.attn2.to_k')!;
  assert.deepEqual(q.A.shape, [4, 32]);
  assert.deepEqual(q.B.shape, [64, 4]);
  assert.ok((q.B.data as Float32Array).every((x) => x === 0));
  const A = q.A.data as Float32Array;
  const std = Math.sqrt(A.reduce((s, x) => s + x * x, 0) / A.length);
  assert.ok(std > 0.1 && std < 0.3, `A std ${std} ≈ 1/√32`);
  assert.deepEqual(b.modules.get('mid_block.attentions.0.transformer_blocks.0.attn2.to_k')!.A.data, A, 'same seed, same adapter');
  assert.throws(() => findTargetModules(w, ['nope']), LoraError);
});

test('save writes PEFT keys and metadata; load reads them back, and reads the older lora.down/lora.up spelling', () => {
  const dir = mkdtempSync(join(tmpdir(), 'npo-lora-'));
  try {
    const w = WeightSource.fromSafetensors(WEIGHTS);
    const adapter = initLora(w, { rank: 4, alpha: 8, targets: ['to_q', 'to_v'] }, 3);
    const path = join(dir, 'adapter_model.safetensors');
    saveLora(path, adapter, { method: 'npo', baseModelSha256: 'ab'.repeat(32), step: 7 });
    const f = SafetensorsFile.open(path);
    assert.ok(f.has('unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight'));
    assert.ok(f.has('unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight'));
    assert.equal(f.tensors.size, 2 * adapter.modules.size);
    assert.deepEqual(
      { method: f.metadata.method, rank: f.metadata.rank, alpha: f.metadata.alpha, step: f.metadata.step, sha: f.metadata.base_model_sha256, format: f.metadata.format },
      { method: 'npo', rank: '4', alpha: '8', step: '7', sha: 'ab'.repeat(32), format: 'pt' },
    );
    assert.deepEqual(JSON.parse(f.metadata.targets), ['to_q', 'to_v']);
    const back = loadLora(path);
    assert.deepEqual(back.config, { rank: 4, alpha: 8, targets: ['to_q', 'to_v'] });
    for (const [m, { A, B }] of adapter.modules) {
      assert.deepEqual(back.modules.get(m)!.A.data, A.data);
      assert.deepEqual(back.modules.get(m)!.B.data, B.data);
    }
    // The older diffusers spelling: <path>.lora.down.weight / .lora.up.weight, and the attention-processor form.
    const old = join(dir, 'old.safetensors');
    const [first, second] = [...adapter.modules.entries()];
    writeSafetensors(old, {
      [`${first[0]}.lora.down.weight`]: first[1].A,
      [`${first[0]}.lora.up.weight`]: first[1].B,
      [`unet.${second[0].replace(/\.to_v$/, '')}.processor.to_v_lora.down.weight`]: second[1].A,
      [`unet.${second[0].replace(/\.to_v$/, '')}.processor.to_v_lora.up.weight`]: second[1].B,
    });
    const legacy = loadLora(old);
    assert.deepEqual([...legacy.modules.keys()].sort(), [first[0], second[0]].sort());
    assert.equal(legacy.config.rank, 4);
    const broken = join(dir, 'broken.safetensors');
    writeSafetensors(broken, { [`unet.${first[0]}.lora_A.weight`]: first[1].A });
    assert.throws(() => loadLora(broken), /has no B \(up\) weight/);
    const foreign = join(dir, 'foreign.safetensors');
    writeSafetensors(foreign, { 'model.embed.weight': first[1].A });
    assert.throws(() => loadLora(foreign), /not a LoRA A\/B weight/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
