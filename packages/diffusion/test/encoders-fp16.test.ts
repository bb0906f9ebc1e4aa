import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { floatToHalf, halfToFloat, hostTensor, readSafetensors, toFloat16, SafetensorsFile, writeSafetensors, type HostTensor } from '@npo/graph';
import { verifyEncodersReference } from '../src/verify/encoders-reference.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures/encoders/public');


test('floatToHalf rounds to nearest even and round-trips through halfToFloat', () => {
  for (const x of [0, -0, 1, -2.5, 65504, 1e-7, 6.1e-5, 3.14159, -0.0001234]) {
    const back = halfToFloat(floatToHalf(x));
    assert.ok(Math.abs(back - x) <= Math.abs(x) * 2 ** -11 + 2 ** -25, `${x} → ${back}`);
  }
  assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00, 'a tie rounds to even (down)');
  assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02, 'a tie rounds to even (up)');
  assert.equal(floatToHalf(70000), 0x7c00, 'overflow gives +inf');
  assert.equal(floatToHalf(2 ** -24), 0x0001, 'smallest subnormal');
});

test('fp16 weights (VAE and text encoder) load through external data and stay close to the float32 reference', async () => {
  const work = mkdtempSync(join(tmpdir(), 'npo-enc-fp16-'));
  try {
    const model = join(work, 'model');
    cpSync(FIXTURE, model, { recursive: true });
    // The fp16 file under the name diffusers/transformers use for fp16 variants: the loaders must find it.
    for (const [part, file, fp16] of [
      ['vae', 'diffusion_pytorch_model.safetensors', 'diffusion_pytorch_model.fp16.safetensors'],
      ['text_encoder', 'model.safetensors', 'model.fp16.safetensors'],
    ]) {
      const src = join(model, part, file);
      const tensors = Object.fromEntries(Object.entries(readSafetensors(src)).map(([k, t]) => [k, t.dtype === 'float32' ? toFloat16(t) : t]));
      writeSafetensors(join(model, part, fp16), tensors);
      rmSync(src);
      assert.ok([...SafetensorsFile.open(join(model, part, fp16)).tensors.values()].every((e) => e.dtype === 'float16'));
    }
    const qs = await verifyEncodersReference(model, join(work, 'artifacts'));
    const byName = new Map(qs.map((q) => [q.name, q]));
    for (const name of ['vae.latents', 'vae.decoded', 'vae.roundtrip_decoded', 'text_encoder.last_hidden_state', 'text_encoder.pooler_output'])
      assert.ok(byName.has(name), `missing ${name}`);
    // Weights of magnitude ~0.02–1 lose ~3 decimal digits in fp16: errors grow well above float32's but stay small.
    for (const q of qs) {
      if (q.name.startsWith('tokenizer')) continue;
      assert.ok(q.max_abs_err < 2e-2, `${q.name}: ${q.max_abs_err}`);
    }
    assert.ok(qs.some((q) => q.name.startsWith('vae') && q.max_abs_err > 1e-5), 'fp16 rounding should be visible: the fp16 file was really used');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
