import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, type HostTensor } from '@npo/graph';
import { parseClipTextConfig } from '../src/text/clip-config.ts';
import { TextEncoder } from '../src/text/clip-text-encoder.ts';
import { ConfigError } from '../src/unet/config.ts';
import { compareAbs } from '../src/verify/compare.ts';

const MODEL = join(import.meta.dirname, 'fixtures/encoders/public');
const TE_DIR = join(MODEL, 'text_encoder');
const io = readSafetensors(join(TE_DIR, 'io.safetensors'));
const config = JSON.parse(readFileSync(join(TE_DIR, 'config.json'), 'utf8'));
const prompts: string[] = JSON.parse(readFileSync(join(TE_DIR, 'info.json'), 'utf8')).input_prompts;
const [N, S, D] = io.last_hidden_state.shape;

function withWork<T>(fn: (work: string) => Promise<T>): Promise<T> {
  const work = mkdtempSync(join(tmpdir(), 'npo-clip-'));
  return fn(work).finally(() => rmSync(work, { recursive: true, force: true }));
}

function assertClose(name: string, actual: Float32Array, expected: HostTensor | Float32Array, atol: number) {
  const q = compareAbs(name, actual, expected, atol);
  assert.ok(q.ok, JSON.stringify(q));
}

test('text encoder configs with unknown fields or unsupported activations fail naming them', () => {
  const cfg = parseClipTextConfig(config);
  assert.deepEqual([cfg.hidden_size, cfg.num_attention_heads, cfg.num_hidden_layers, cfg.hidden_act, cfg.eos_token_id], [32, 4, 5, 'quick_gelu', 2]);
  assert.equal(parseClipTextConfig({ ...config, hidden_act: 'gelu' }).hidden_act, 'gelu');
  assert.throws(() => parseClipTextConfig({ ...config, hidden_act: 'gelu_new' }), (e: Error) => e instanceof ConfigError && /hidden_act="gelu_new" is not supported/.test(e.message));
  assert.throws(() => parseClipTextConfig({ ...config, rope_theta: 10000 }), /unknown field rope_theta/);
  assert.equal(parseClipTextConfig({ ...config, architectures: ['CLIPTextModelWithProjection'], projection_dim: 16 }).projection_dim, 16);
  assert.equal(parseClipTextConfig({ ...config, projection_dim: 16 }).projection_dim, null, 'CLIPTextModel ignores projection_dim');
  assert.throws(() => parseClipTextConfig({ ...config, architectures: ['CLIPVisionModel'] }), /architectures=.*CLIPVisionModel.* is not supported/);
  assert.throws(() => parseClipTextConfig({ ...config, num_attention_heads: 5 }), /hidden_size 32 is not divisible by num_attention_heads 5/);
});

test('TextEncoder.encode tokenizes the prompts and reproduces CLIPTextModel (batch of 3: padded run)', () =>
  withWork(async (work) => {
    const te = await TextEncoder.create(MODEL, { workDir: work, batch: 3 });
    try {
      const out = await te.encode(prompts);
      assert.equal(out.lastHiddenState.length, N * S * D);
      assertClose('last_hidden_state', out.lastHiddenState, io.last_hidden_state, 1e-4);
      assertClose('pooler_output', out.pooled, io.pooler_output, 1e-4);
      assert.deepEqual(out.truncated, [false, false]);
      assert.equal(out.hiddenStates, undefined);
      const long = await te.encode([Array(100).fill('cat').join(' ')]);
      assert.deepEqual(long.truncated, [true]);
    } finally {
      await te.release();
    }
  }));

test('batch 1 runs prompts one by one; hidden states come out as [L + 1, n, S, D]', () =>
  withWork(async (work) => {
    const te = await TextEncoder.create(MODEL, { workDir: work, batch: 1, hiddenStates: true });
    try {
      const out = await te.encode(prompts);
      assertClose('last_hidden_state', out.lastHiddenState, io.last_hidden_state, 1e-4);
      assertClose('hidden_states', out.hiddenStates!, io.hidden_states, 1e-4);
    } finally {
      await te.release();
    }
  }));

test('maskPadding also masks padding keys (transformers with attention_mask)', () =>
  withWork(async (work) => {
    const te = await TextEncoder.create(MODEL, { workDir: work, batch: 2, maskPadding: true });
    try {
      const out = await te.encode(prompts);
      assertClose('last_hidden_state_masked', out.lastHiddenState, io.last_hidden_state_masked, 1e-4);
      assertClose('pooler_output_masked', out.pooled, io.pooler_output_masked, 1e-4);
    } finally {
      await te.release();
    }
  }));

test('unconditional() is the empty prompt, independent of what else shares the batch', () =>
  withWork(async (work) => {
    const te = await TextEncoder.create(MODEL, { workDir: work, batch: 2 });
    try {
      const uncond = await te.unconditional();
      assert.equal(await te.unconditional(), uncond, 'cached');
      assert.equal(uncond.lastHiddenState.length, S * D);
      const mixed = await te.encode([prompts[0], '']);
      assertClose('uncond', uncond.lastHiddenState, mixed.lastHiddenState.slice(S * D), 1e-6);
      assertClose('uncond pooled', uncond.pooled, mixed.pooled.slice(D), 1e-6);
      // The empty prompt is bos, eos, padding: its pooled token is position 1.
      assertClose('pooled = state at eos', uncond.pooled, uncond.lastHiddenState.slice(D, 2 * D), 0);
    } finally {
      await te.release();
    }
  }));

test('non-legacy eos_token_id: the pooled token is the first position holding that id', () =>
  withWork(async (work) => {
    const model = join(work, 'model');
    cpSync(MODEL, model, { recursive: true });
    const ids = io.input_ids.data as BigInt64Array;
    // An id that occurs in the first prompt at position p (and maybe later): pooled must be row p.
    const p = 3;
    const id = Number(ids[p]);
    assert.equal([...ids.slice(0, p)].indexOf(BigInt(id)), -1, 'the id does not occur earlier');
    writeFileSync(join(model, 'text_encoder/config.json'), JSON.stringify({ ...config, eos_token_id: id }));
    const te = await TextEncoder.create(model, { workDir: join(work, 'artifacts'), batch: 1 });
    try {
      const out = await te.encode([prompts[0]]);
      assertClose('last_hidden_state', out.lastHiddenState, (io.last_hidden_state.data as Float32Array).slice(0, S * D), 1e-4);
      assertClose('pooled', out.pooled, (io.last_hidden_state.data as Float32Array).slice(p * D, (p + 1) * D), 1e-4);
    } finally {
      await te.release();
    }
  }));
