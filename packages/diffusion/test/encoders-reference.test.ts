import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '@npo/graph';
import { verifyEncodersReference } from '../src/verify/encoders-reference.ts';
import { VERIFIERS } from '../src/verify/reference.ts';
import { assertReference, withWork } from './reference-check.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures/encoders/public');

const withEncWork = <T>(fn: (work: string) => Promise<T>) => withWork('npo-enc-ref-', fn);

test('encoders reference: every VAE, text encoder and tokenizer quantity within the README tolerances', () =>
  withEncWork(async (work) => {
    assert.ok(VERIFIERS.includes(verifyEncodersReference), 'registered for npm run verify:reference');
    const qs = await verifyEncodersReference(FIXTURE, work);
    assertReference(qs, { names: [
      'vae.encoder_out', 'vae.posterior_mean', 'vae.posterior_logvar', 'vae.posterior_std', 'vae.latents', 'vae.latents_sample',
      'vae.post_quant_conv_out', 'vae.decoded', 'vae.roundtrip_decoded', 'text_encoder.last_hidden_state', 'text_encoder.pooler_output',
      'text_encoder.pooled_index', 'text_encoder.hidden_states', 'text_encoder.last_hidden_state_masked', 'text_encoder.pooler_output_masked',
      'tokenizer.input_ids', 'tokenizer.attention_mask', 'tokenizer.tokens', 'tokenizer.truncated',
    ] });
    assert.match(qs.find((q) => q.name === 'vae.latents')!.tolerance, /atol 0.00001/);
  }));

test('a wrong reference is reported: the failing prompt is named, a perturbed VAE output fails its tolerance', () =>
  withEncWork(async (work) => {
    const dir = join(work, 'ref');
    cpSync(FIXTURE, dir, { recursive: true });
    rmSync(join(dir, 'text_encoder'), { recursive: true });
    const expectedPath = join(dir, 'tokenizer/expected.json');
    const expected = JSON.parse(readFileSync(expectedPath, 'utf8'));
    expected.cases[0].input_ids[1] += 1;
    writeFileSync(expectedPath, JSON.stringify(expected));
    const ioPath = join(dir, 'vae/io.safetensors');
    const io = readSafetensors(ioPath);
    (io.decoded.data as Float32Array)[17] += 2e-4;
    writeSafetensors(ioPath, io);

    const qs = await verifyEncodersReference(dir, join(work, 'artifacts'));
    const bad = qs.filter((q) => !q.ok).map((q) => q.name);
    assert.deepEqual(bad, ['vae.decoded', `tokenizer.input_ids[${JSON.stringify(expected.cases[0].prompt)}]`, 'tokenizer.input_ids']);
    assert.ok(!qs.some((q) => q.name.startsWith('text_encoder')), 'an absent part is skipped');
  }));

test('config-driven: a VAE of 3 blocks × 2 resnets with shift_factor and legacy names, a gelu CLIP with a non-legacy eos (numpy reference)', () =>
  withEncWork(async (work) => {
    const qs = await verifyEncodersReference(join(import.meta.dirname, 'fixtures/encoders/variant/model'), work);
    assert.equal(qs.filter((q) => q.name.startsWith('vae.')).length, 9);
    assert.equal(qs.filter((q) => q.name.startsWith('text_encoder.')).length, 4);
    assertReference(qs, { names: [] });
  }));
