import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Graph, readSafetensors, type HostTensor, type Session, type SessionOptions } from '@npo/graph';
import { ArtifactDir } from '../model/artifacts.ts';
import { parseClipTextConfig } from '../text/clip-config.ts';
import { clipTextForward, stackHiddenStates } from '../text/clip-text-model.ts';
import { clipWeightsPath } from '../text/clip-text-encoder.ts';
import { ClipTokenizer } from '../text/tokenizer.ts';
import { vaeDecode, vaeEncode } from '../vae/autoencoder.ts';
import { loadVae } from '../vae/vae.ts';
import { compareAbs, type Quantity } from './compare.ts';

const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

/**
 * Runs the encoders on a reference folder laid out like fixtures/encoders (vae/, text_encoder/, tokenizer/;
 * absent parts are skipped) and compares every stored quantity with the tolerances of the fixtures README.
 */
export async function verifyEncodersReference(dir: string, workDir: string, sessions: SessionOptions = {}): Promise<Quantity[]> {
  const artifacts = new ArtifactDir(workDir, sessions);
  return [
    ...(await verifyVae(join(dir, 'vae'), artifacts)),
    ...(await verifyTextEncoder(join(dir, 'text_encoder'), artifacts)),
    ...verifyTokenizer(join(dir, 'tokenizer')),
  ];
}

async function verifyVae(vaeDir: string, artifacts: ArtifactDir): Promise<Quantity[]> {
  const ioPath = join(vaeDir, 'io.safetensors');
  if (!existsSync(join(vaeDir, 'config.json')) || !existsSync(ioPath)) return [];
  const { config, weights } = loadVae(vaeDir, artifacts);
  const io = readSafetensors(ioPath);
  const out: Quantity[] = [];

  let encoded: Record<string, HostTensor> | null = null;
  if (io.image) {
    const eg = new Graph();
    const enc = vaeEncode({ g: eg, weights, adapters: [] }, config, eg.input('image', 'float32', io.image.shape));
    eg.output('encoder_out', enc.encoderOut);
    eg.output('mean', enc.mean);
    eg.output('logvar', enc.logvar);
    eg.output('std', enc.std);
    eg.output('latents', enc.latents);
    const e = await (await artifacts.compile(eg, 'verify_vae_encoder')).session.run({ image: io.image });
    const checks: [name: string, ours: string, atol: number][] = [
      ['encoder_out', 'encoder_out', 1e-4], ['posterior_mean', 'mean', 1e-4], ['posterior_logvar', 'logvar', 1e-4],
      ['posterior_std', 'std', 1e-4], ['latents', 'latents', 1e-5],
    ];
    for (const [name, ours, atol] of checks) if (io[name]) out.push(compareAbs(`vae.${name}`, e[ours], io[name], atol));
    if (io.sample_noise && io.latents_sample)
      out.push(compareAbs('vae.latents_sample', sampleLatents(e.mean, e.std, io.sample_noise, config.scaling_factor, config.shift_factor), io.latents_sample, 1e-5));
    encoded = e;
  }

  // One decoder graph per latent shape (the decoder test input and the round trip may differ in batch).
  const decoders = new Map<string, Promise<Session>>();
  const decode = async (latents: HostTensor) => {
    const key = latents.shape.join('x');
    if (!decoders.has(key)) {
      const dg = new Graph();
      const dec = vaeDecode({ g: dg, weights, adapters: [] }, config, dg.input('latents', 'float32', latents.shape));
      dg.output('post_quant_conv_out', dec.postQuantConvOut);
      dg.output('images', dec.images);
      decoders.set(key, artifacts.compile(dg, `verify_vae_decoder_${key}`).then((c) => c.session));
    }
    return (await decoders.get(key)!).run({ latents });
  };
  if (io.decoder_latents) {
    const d = await decode(io.decoder_latents);
    if (io.post_quant_conv_out) out.push(compareAbs('vae.post_quant_conv_out', d.post_quant_conv_out, io.post_quant_conv_out, 1e-4));
    if (io.decoded) out.push(compareAbs('vae.decoded', d.images, io.decoded, 1e-4));
  }
  // The round trip decodes the latents this implementation encoded, so it checks encoder and decoder together.
  const roundtripLatents = encoded?.latents ?? io.latents;
  if (io.roundtrip_decoded && roundtripLatents) out.push(compareAbs('vae.roundtrip_decoded', (await decode(roundtripLatents)).images, io.roundtrip_decoded, 1e-4));
  return out;
}

/** DiagonalGaussianDistribution.sample with given noise, scaled: ((mean + std·noise) − shift) × scaling, in float32 steps as torch. */
function sampleLatents(mean: HostTensor, std: HostTensor, noise: HostTensor, scaling: number, shift: number): Float32Array {
  const m = mean.data as Float32Array;
  const s = std.data as Float32Array;
  const n = noise.data as Float32Array;
  const f = Math.fround;
  return Float32Array.from(m, (mi, i) => f(f(f(mi + f(s[i] * n[i])) - shift) * f(scaling)));
}

async function verifyTextEncoder(teDir: string, artifacts: ArtifactDir): Promise<Quantity[]> {
  const ioPath = join(teDir, 'io.safetensors');
  if (!existsSync(join(teDir, 'config.json')) || !existsSync(ioPath)) return [];
  const config = parseClipTextConfig(readJson(join(teDir, 'config.json')));
  const weights = artifacts.weights(clipWeightsPath(teDir), 'text_encoder.safetensors');
  const io = readSafetensors(ioPath);
  const out: Quantity[] = [];
  for (const masked of [false, true]) {
    const suffix = masked ? '_masked' : '';
    if (!io[`last_hidden_state${suffix}`] && !io[`pooler_output${suffix}`]) continue;
    if (masked && !io.attention_mask) continue;
    const g = new Graph();
    const ids = g.input('input_ids', 'int64', io.input_ids.shape);
    const mask = masked ? g.input('attention_mask', 'int64', io.attention_mask.shape) : null;
    const res = clipTextForward({ g, weights, adapters: [] }, config, ids, mask);
    g.output('last_hidden_state', res.lastHiddenState);
    g.output('pooler_output', res.pooled);
    g.output('pooled_index', res.pooledIndex);
    if (!masked) g.output('hidden_states', stackHiddenStates(res.hiddenStates));
    const feeds: Record<string, HostTensor> = masked ? { input_ids: io.input_ids, attention_mask: io.attention_mask } : { input_ids: io.input_ids };
    const r = await (await artifacts.compile(g, `verify_text_encoder${suffix}`)).session.run(feeds);
    for (const k of ['last_hidden_state', 'pooler_output'])
      if (io[k + suffix]) out.push(compareAbs(`text_encoder.${k}${suffix}`, r[k], io[k + suffix], 1e-4));
    if (!masked && io.pooled_index) out.push(compareAbs('text_encoder.pooled_index', r.pooled_index, io.pooled_index, 0));
    if (!masked && io.hidden_states) out.push(compareAbs('text_encoder.hidden_states', r.hidden_states, io.hidden_states, 1e-4));
  }
  return out;
}

interface TokenizerCase {
  prompt: string;
  tokens?: string[];
  input_ids: number[];
  attention_mask: number[];
  truncated?: boolean;
  input_ids_untruncated?: number[];
}

/** Exact comparison of one field over every case: one summary quantity, plus one failing quantity per prompt that differs. */
function exactOverCases(name: string, cases: TokenizerCase[], actual: (c: TokenizerCase) => unknown, expected: (c: TokenizerCase) => unknown): Quantity[] {
  const wrong = cases.filter((c) => expected(c) !== undefined && JSON.stringify(actual(c)) !== JSON.stringify(expected(c)));
  const checked = cases.filter((c) => expected(c) !== undefined).length;
  const quantity = (n: string, errors: number): Quantity => ({ name: n, max_abs_err: errors, max_rel_err: errors, tolerance: `exact (${checked} prompts)`, ok: errors === 0 });
  return [
    ...wrong.map((c) => ({ ...quantity(`${name}[${JSON.stringify(c.prompt)}]`, 1), tolerance: `exact: got ${JSON.stringify(actual(c))}` })),
    quantity(name, wrong.length),
  ];
}

/** The CLIP tokenizer against expected.json: special ids, tokens, padded ids, masks, truncation, all exact. */
function verifyTokenizer(tokDir: string): Quantity[] {
  const expectedPath = join(tokDir, 'expected.json');
  if (!existsSync(expectedPath)) return [];
  const expected = readJson(expectedPath);
  const tok = ClipTokenizer.fromFolder(tokDir);
  const out: Quantity[] = [];
  const specials: [string, number][] = [['bos_token_id', tok.bosId], ['eos_token_id', tok.eosId], ['pad_token_id', tok.padId], ['unk_token_id', tok.unkId], ['model_max_length', tok.modelMaxLength]];
  for (const [key, got] of specials)
    if (typeof expected[key] === 'number') out.push(compareAbs(`tokenizer.${key}`, got, expected[key], 0));
  const cases: TokenizerCase[] = expected.cases;
  const enc = new Map(cases.map((c) => [c, tok.encode(c.prompt)]));
  out.push(...exactOverCases('tokenizer.tokens', cases, (c) => tok.tokenize(c.prompt), (c) => c.tokens));
  out.push(...exactOverCases('tokenizer.input_ids', cases, (c) => enc.get(c)!.inputIds, (c) => c.input_ids));
  out.push(...exactOverCases('tokenizer.attention_mask', cases, (c) => enc.get(c)!.attentionMask, (c) => c.attention_mask));
  out.push(...exactOverCases('tokenizer.truncated', cases, (c) => enc.get(c)!.truncated, (c) => c.truncated));
  out.push(...exactOverCases('tokenizer.input_ids_untruncated', cases, (c) => tok.untruncatedIds(c.prompt), (c) => c.input_ids_untruncated));
  return out;
}
