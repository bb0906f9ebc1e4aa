import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkModelFolder, readModelFolder, writeTinySdxlFolder } from '../src/index.ts';

// The one model-folder reader (kind, VAE, weights files, sample size) and the structural check built on it, on the
// built-in tiny-sd (SD1.x layout, pixel space) and a seeded tiny SDXL folder (the same builder the SDXL training test uses).
const ROOT = new URL('../../..', import.meta.url).pathname;
const VAE = join(import.meta.dirname, 'fixtures/encoders/public/vae');

function sdxlFolder(name: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'npo-model-folder-')), name);
  writeTinySdxlFolder(dir, { words: ['a red circle'], seed: 5, vaeFrom: VAE });
  return dir;
}
const editJson = (path: string, edit: (v: Record<string, unknown>) => void) => {
  const v = JSON.parse(readFileSync(path, 'utf8'));
  edit(v);
  writeFileSync(path, JSON.stringify(v));
};

test('tiny-sd reads as an SD1.x pixel-space model: no VAE, its UNet sample size, diffusers and transformers weight names', () => {
  const r = readModelFolder(join(ROOT, 'models/tiny-sd'));
  assert.deepEqual(r.problems, []);
  assert.equal(r.pipelineClass, 'StableDiffusionPipeline');
  assert.deepEqual(r.info, {
    kind: 'sd15', pixelSpace: true, hasVae: false, sampleSize: 16, vaeScaleFactor: null, inChannels: 3, outChannels: 3,
    weights: { unet: 'diffusion_pytorch_model.safetensors', text_encoder: 'model.safetensors' },
  });
  assert.deepEqual(checkModelFolder(join(ROOT, 'models/tiny-sd')).errors, []);
});

test('an SD2 UNet (1024-wide cross-attention) reads as sd2; fp16 weight files are used when the full-precision ones are absent', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'npo-model-folder-')), 'sd2');
  cpSync(join(ROOT, 'models/tiny-sd'), dir, { recursive: true });
  editJson(join(dir, 'unet/config.json'), (c) => void (c.cross_attention_dim = 1024));
  renameSync(join(dir, 'unet/diffusion_pytorch_model.safetensors'), join(dir, 'unet/diffusion_pytorch_model.fp16.safetensors'));
  renameSync(join(dir, 'text_encoder/model.safetensors'), join(dir, 'text_encoder/model.fp16.safetensors'));
  const r = readModelFolder(dir);
  assert.equal(r.info.kind, 'sd2');
  assert.deepEqual(r.info.weights, { unet: 'diffusion_pytorch_model.fp16.safetensors', text_encoder: 'model.fp16.safetensors' });
  assert.equal(r.weightsPaths.unet, join(dir, 'unet/diffusion_pytorch_model.fp16.safetensors'));
  rmSync(join(dir, '..'), { recursive: true, force: true });
});

test('a tiny SDXL folder reads as sdxl (its VAE scale factor, seven parts) and passes the structural check', () => {
  const dir = sdxlFolder('sdxl');
  try {
    const r = readModelFolder(dir);
    assert.deepEqual(r.problems, []);
    assert.equal(r.pipelineClass, 'StableDiffusionXLPipeline');
    assert.deepEqual(r.requiredParts, ['unet', 'vae', 'text_encoder', 'text_encoder_2', 'tokenizer', 'tokenizer_2', 'scheduler']);
    assert.deepEqual(r.info, {
      kind: 'sdxl', pixelSpace: false, hasVae: true, sampleSize: 8, vaeScaleFactor: 2, inChannels: 4, outChannels: 4,
      weights: { unet: 'diffusion_pytorch_model.safetensors', vae: 'diffusion_pytorch_model.safetensors', text_encoder: 'model.safetensors', text_encoder_2: 'model.safetensors' },
    });
    assert.deepEqual(checkModelFolder(dir), { ok: true, errors: [], info: r.info });
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});

test('SDXL consistency: cross_attention_dim against both encoders, the text_time projection against text_encoder_2, each error naming field and file', () => {
  const dir = sdxlFolder('bad-sdxl');
  try {
    editJson(join(dir, 'unet/config.json'), (c) => void (c.cross_attention_dim = 96));
    assert.deepEqual(checkModelFolder(dir).errors, ['unet/config.json: cross_attention_dim 96 ≠ text_encoder hidden_size 32 + text_encoder_2 hidden_size 32 = 64']);

    editJson(join(dir, 'unet/config.json'), (c) => void (c.cross_attention_dim = 64));
    editJson(join(dir, 'text_encoder_2/config.json'), (c) => void (c.projection_dim = 16));
    assert.deepEqual(checkModelFolder(dir).errors, [
      'text_encoder_2/model.safetensors: text_projection.weight is [32,32], text_encoder_2/config.json projection_dim 16 and hidden_size 32 imply [16,32]',
      'unet/config.json: projection_class_embeddings_input_dim 80 ≠ text_encoder_2 projection_dim 16 + 6 × addition_time_embed_dim 8 = 64',
      'unet/diffusion_pytorch_model.safetensors: add_embedding.linear_1.weight is [128,80], its input 80 ≠ text_encoder_2 projection_dim 16 + 6 × addition_time_embed_dim 8 = 64',
    ]);

    editJson(join(dir, 'text_encoder_2/config.json'), (c) => void delete c.projection_dim);
    assert.match(checkModelFolder(dir).errors.join('\n'), /^text_encoder_2\/config\.json: projection_dim null must be a positive integer/m);
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});

test('an SDXL folder needs all seven parts, and a text_time UNet under a non-SDXL pipeline name is refused by name', () => {
  const dir = sdxlFolder('partial-sdxl');
  try {
    rmSync(join(dir, 'text_encoder_2'), { recursive: true });
    rmSync(join(dir, 'tokenizer_2'), { recursive: true });
    const errors = checkModelFolder(dir).errors;
    assert.deepEqual(errors.slice(0, 3), [
      'text_encoder_2/ is missing (StableDiffusionXLPipeline needs unet/, vae/, text_encoder/, text_encoder_2/, tokenizer/, tokenizer_2/, scheduler/)',
      'tokenizer_2/ is missing (StableDiffusionXLPipeline needs unet/, vae/, text_encoder/, text_encoder_2/, tokenizer/, tokenizer_2/, scheduler/)',
      'text_encoder_2/config.json is missing',
    ]);
    assert.ok(errors.includes('text_encoder_2/ has no .safetensors weights'), errors.join('\n'));

    const renamed = sdxlFolder('renamed-sdxl');
    editJson(join(renamed, 'model_index.json'), (c) => void (c._class_name = 'StableDiffusionPipeline'));
    assert.deepEqual(checkModelFolder(renamed).errors, [
      'model_index.json: _class_name is "StableDiffusionPipeline", but unet/config.json is an SDXL UNet (addition_embed_type "text_time"); SDXL folders name StableDiffusionXLPipeline',
    ]);
    rmSync(join(renamed, '..'), { recursive: true, force: true });

    const plainUnet = sdxlFolder('plain-unet-sdxl');
    editJson(join(plainUnet, 'unet/config.json'), (c) => {
      delete c.addition_embed_type;
    });
    assert.deepEqual(checkModelFolder(plainUnet).errors, ['unet/config.json: addition_embed_type is null, StableDiffusionXLPipeline needs "text_time"']);
    rmSync(join(plainUnet, '..'), { recursive: true, force: true });
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});
