import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { numel } from '@npo/graph';
import { ClipTokenizer, clipTextParameterShapes, parseClipTextConfig, SdxlTextEncoders, TextEncoder, writeTinySdxlFolder } from '../src/index.ts';
import { verifySdxlTextReference } from '../src/verify/sdxl-text-reference.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const config = (name: string) => JSON.parse(readFileSync(join(FIXTURES, 'configs', name), 'utf8'));
const count = (shapes: Map<string, number[]>) => [...shapes.values()].reduce((a, s) => a + numel(s), 0);
const WORDS = ['a red circle', 'a blue square on the left', 'two green triangles'];

async function withWork(fn: (work: string) => Promise<void>) {
  const work = mkdtempSync(join(tmpdir(), 'npo-sdxl-text-'));
  try {
    await fn(work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

test("SDXL's text encoder configs enumerate exactly 123,060,480 (CLIP ViT-L) and 694,659,840 (OpenCLIP bigG + text_projection) parameters", () => {
  assert.equal(count(clipTextParameterShapes(parseClipTextConfig(config('sdxl-text-encoder.json')))), 123_060_480);
  const second = parseClipTextConfig(config('sdxl-text-encoder-2.json'));
  assert.equal(second.projection_dim, 1280);
  assert.equal(count(clipTextParameterShapes(second)), 694_659_840);
});

test('sdxl-tiny reference: both encoders\' penultimate states, last_hidden_state, projected pooled state and the assembled prompt_embeds', async () =>
  withWork(async (work) => {
    const qs = await verifySdxlTextReference(join(FIXTURES, 'sdxl-tiny'), work);
    assert.deepEqual(qs.map((q) => q.name), [
      'text_encoder.hidden_states_penultimate', 'text_encoder.last_hidden_state', 'text_encoder_2.hidden_states_penultimate',
      'text_encoder_2.text_embeds', 'sdxl.prompt_embeds', 'sdxl.pooled_prompt_embeds',
    ]);
    const bad = qs.filter((q) => !q.ok);
    assert.deepEqual(bad, []);
  }));

test('SdxlTextEncoders: prompt_embeds = both penultimate states side by side, pooled = encoder 2 projection; tokenizer_2 pads with "!"; empty negative zeros or encoded', async () =>
  withWork(async (work) => {
    const model = join(work, 'model');
    writeTinySdxlFolder(model, { words: WORDS, seed: 7, vaeFrom: join(FIXTURES, 'encoders/public/vae') });
    const t1 = ClipTokenizer.fromFolder(join(model, 'tokenizer'));
    const t2 = ClipTokenizer.fromFolder(join(model, 'tokenizer_2'));
    assert.notEqual(t1.padId, t2.padId);
    const ids1 = t1.encode('a red circle').inputIds;
    const ids2 = t2.encode('a red circle').inputIds;
    assert.equal(ids1.at(-1), t1.eosId, 'tokenizer pads with its eos');
    assert.equal(ids2.at(-1), t2.padId, 'tokenizer_2 pads with "!"');
    assert.deepEqual(ids1.slice(0, 5), ids2.slice(0, 5), 'same words and eos, then different padding');

    const enc = await SdxlTextEncoders.create(model, { workDir: join(work, 'enc'), batch: 2 });
    const single1 = await TextEncoder.create(model, { workDir: join(work, 'one'), batch: 3 });
    const single2 = await TextEncoder.create(model, { workDir: join(work, 'two'), batch: 3, parts: { encoder: 'text_encoder_2', tokenizer: 'tokenizer_2' } });
    try {
      assert.deepEqual(enc.embedShape, [8, 64]);
      assert.equal(enc.pooledWidth, 32);
      const out = await enc.encode(WORDS); // 3 prompts in batches of 2: the second run is padded
      const a = await single1.encode(WORDS);
      const b = await single2.encode(WORDS);
      assert.equal(out.promptEmbeds.length, 3 * 8 * 64);
      for (let row = 0; row < 3 * 8; row++) {
        assert.deepEqual(out.promptEmbeds.subarray(row * 64, row * 64 + 32), a.penultimate.subarray(row * 32, (row + 1) * 32));
        assert.deepEqual(out.promptEmbeds.subarray(row * 64 + 32, (row + 1) * 64), b.penultimate.subarray(row * 32, (row + 1) * 32));
      }
      assert.deepEqual(out.pooled, b.textEmbeds);
      assert.equal(a.textEmbeds, undefined, 'CLIPTextModel has no projection');
      assert.notDeepEqual(b.penultimate, b.lastHiddenState, 'penultimate is not the final layer');
      assert.equal(enc.forceZerosForEmptyPrompt, true);
      const neg = await enc.emptyNegative();
      assert.ok(neg.promptEmbeds.every((v) => v === 0) && neg.pooled.every((v) => v === 0) && neg.pooled.length === 32);
    } finally {
      await Promise.all([enc.release(), single1.release(), single2.release()]);
    }

    const unforced = join(work, 'unforced');
    writeTinySdxlFolder(unforced, { words: WORDS, seed: 7, vaeFrom: join(FIXTURES, 'encoders/public/vae'), forceZerosForEmptyPrompt: false });
    const enc2 = await SdxlTextEncoders.create(unforced, { workDir: join(work, 'enc2'), batch: 1 });
    try {
      const neg = await enc2.emptyNegative();
      assert.deepEqual(neg, await enc2.encode(['']));
      assert.ok(neg.pooled.some((v) => v !== 0));
    } finally {
      await enc2.release();
    }
  }));
