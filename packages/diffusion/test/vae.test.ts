import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, SafetensorsFile, writeSafetensors, type HostTensor } from '@npo/graph';
import { ConfigError } from '../src/unet/config.ts';
import { parseVaeConfig } from '../src/vae/config.ts';
import { Vae } from '../src/vae/vae.ts';
import { vaeParameterShapes } from '../src/vae/parameters.ts';
import { compareAbs } from '../src/verify/compare.ts';

const VAE_DIR = join(import.meta.dirname, 'fixtures/encoders/public/vae');
const io = readSafetensors(join(VAE_DIR, 'io.safetensors'));
const config = JSON.parse(readFileSync(join(VAE_DIR, 'config.json'), 'utf8'));

function withWork<T>(fn: (work: string) => Promise<T>): Promise<T> {
  const work = mkdtempSync(join(tmpdir(), 'npo-vae-'));
  return fn(work).finally(() => rmSync(work, { recursive: true, force: true }));
}

const f32 = (t: HostTensor) => t.data as Float32Array;

test('Vae.encode/decode reproduce diffusers AutoencoderKL (latents = mean × scaling_factor)', () =>
  withWork(async (work) => {
    const vae = await Vae.create(VAE_DIR, { workDir: work, batch: 2, resolution: 32 });
    try {
      assert.equal(vae.latentSize, 16);
      const enc = await vae.encode(f32(io.image));
      const latents = compareAbs('latents', enc.latents, io.latents, 1e-5);
      assert.ok(latents.ok, JSON.stringify(latents));
      assert.ok(compareAbs('mean', enc.mean, io.posterior_mean, 1e-4).ok);
      assert.ok(compareAbs('logvar', enc.logvar, io.posterior_logvar, 1e-4).ok);
      const decoded = compareAbs('decoded', await vae.decode(f32(io.decoder_latents)), io.decoded, 1e-4);
      assert.ok(decoded.ok, JSON.stringify(decoded));
    } finally {
      await vae.release();
    }
  }));

test('Vae pads a short batch and returns only the items given', () =>
  withWork(async (work) => {
    const vae = await Vae.create(VAE_DIR, { workDir: work, batch: 3, resolution: 32 });
    try {
      const per = 3 * 32 * 32;
      const second = f32(io.image).slice(per, 2 * per);
      const enc = await vae.encode(second);
      assert.equal(enc.latents.length, 4 * 16 * 16);
      assert.ok(compareAbs('latents[1]', enc.latents, f32(io.latents).slice(4 * 256, 8 * 256), 1e-5).ok);
      await assert.rejects(vae.encode(new Float32Array(4 * per)), /compiled for batch 3/);
      await assert.rejects(vae.decode(new Float32Array(7)), /latents values/);
    } finally {
      await vae.release();
    }
  }));

test('a resolution the encoder cannot halve evenly is refused', () =>
  withWork(async (work) => {
    await assert.rejects(Vae.create(VAE_DIR, { workDir: work, batch: 1, resolution: 33 }), /resolution 33 must be a positive multiple of 2/);
  }));

test('VAE configs with unknown or unsupported fields fail naming them', () => {
  assert.equal(parseVaeConfig(config).scaling_factor, 0.18215);
  assert.throws(() => parseVaeConfig({ ...config, frobnicate: 1 }), (e: Error) => e instanceof ConfigError && /unknown field frobnicate/.test(e.message));
  assert.throws(() => parseVaeConfig({ ...config, act_fn: 'gelu' }), /act_fn="gelu" is not supported/);
  assert.throws(() => parseVaeConfig({ ...config, latents_mean: [0, 0, 0, 0] }), /latents_mean=\[0,0,0,0\] is not supported/);
  assert.throws(() => parseVaeConfig({ ...config, down_block_types: ['DownEncoderBlock2D', 'AttnDownEncoderBlock2D'] }), /AttnDownEncoderBlock2D is not supported/);
  assert.throws(() => parseVaeConfig({ ...config, norm_num_groups: 24 }), /32 channels are not divisible by norm_num_groups=24/);
  const other = parseVaeConfig({ ...config, scaling_factor: 0.13025, shift_factor: null });
  assert.equal(other.scaling_factor, 0.13025);
  assert.equal(other.shift_factor, 0);
});

test('older checkpoints with query/key/value/proj_attn names (and 1×1-conv kernels) load and give the same outputs', () =>
  withWork(async (work) => {
    const legacyDir = join(work, 'legacy-vae');
    cpSync(VAE_DIR, legacyDir, { recursive: true });
    const weightsPath = join(legacyDir, 'diffusion_pytorch_model.safetensors');
    const renamed: Record<string, HostTensor> = {};
    const old: Record<string, string> = { to_q: 'query', to_k: 'key', to_v: 'value', 'to_out.0': 'proj_attn' };
    let count = 0;
    for (const [name, t] of Object.entries(readSafetensors(weightsPath))) {
      const m = /^(.*\.attentions\.0)\.(to_q|to_k|to_v|to_out\.0)\.(weight|bias)$/.exec(name);
      if (!m) {
        renamed[name] = t;
        continue;
      }
      count++;
      // Kernels as 1×1 convs on the encoder, plain linears on the decoder: both spellings exist in the wild.
      const asConv = m[3] === 'weight' && m[1].startsWith('encoder');
      renamed[`${m[1]}.${old[m[2]]}.${m[3]}`] = asConv ? { ...t, shape: [...t.shape, 1, 1] } : t;
    }
    assert.equal(count, 16, 'both mid blocks have q, k, v, out weights and biases');
    writeSafetensors(weightsPath, renamed);
    const vae = await Vae.create(legacyDir, { workDir: join(work, 'artifacts'), batch: 2, resolution: 32 });
    try {
      assert.ok(compareAbs('latents', (await vae.encode(f32(io.image))).latents, io.latents, 1e-5).ok);
      assert.ok(compareAbs('decoded', await vae.decode(f32(io.decoder_latents)), io.decoded, 1e-4).ok);
    } finally {
      await vae.release();
    }
  }));

test('vaeParameterShapes: every tensor of a diffusers AutoencoderKL file, with its shape; SD1.5\'s VAE has 83,653,863 parameters', () => {
  const file = SafetensorsFile.open(join(VAE_DIR, 'diffusion_pytorch_model.safetensors'));
  const stored = Object.fromEntries([...file.tensors.keys()].map((k) => [k, file.entry(k).shape]));
  assert.deepEqual(Object.fromEntries(vaeParameterShapes(parseVaeConfig(config))), stored);
  const sd15 = parseVaeConfig(JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/configs/sd15-vae.json'), 'utf8')));
  const count = [...vaeParameterShapes(sd15).values()].reduce((n, shape) => n + shape.reduce((a, b) => a * b, 1), 0);
  assert.equal(count, 83_653_863);
});
