import { hostTensor, Rng, SafetensorsFile, toFloat32, writeSafetensors, type HostTensor } from '@npo/graph';
import { DEFAULT_LORA_TARGETS, isLoraTargetPreset, targetModuleNames, type LoraTargets } from '@npo/contracts';
import type { WeightSource } from '../model/weights.ts';

/** The attention projections (to_q, to_k, to_v, to_out.0): the `attn` preset. */
export const DEFAULT_TARGETS: LoraTargets = DEFAULT_LORA_TARGETS;

export interface LoraConfig {
  rank: number;
  alpha: number;
  /** A preset (`attn`, `attn+ff`, `all-linear`) or module names matched as PEFT's target_modules. */
  targets: LoraTargets;
}

/** A LoRA adapter in host memory: per module path, A [r, in] and B [out, r]. */
export interface LoraAdapter {
  config: LoraConfig;
  modules: Map<string, { A: HostTensor; B: HostTensor }>;
}

export class LoraError extends Error {
  readonly code = 'invalid_adapter';
  constructor(message: string) {
    super(message);
    this.name = 'LoraError';
  }
}

const matches = (path: string, name: string) => path === name || path.endsWith(`.${name}`);

/**
 * Module paths (diffusers names, no `.weight`) of every Linear (2-D weight) that the targets select: all of
 * them for `all-linear`, else those whose path is a name or ends with `.<name>`. Every explicit name must select
 * at least one module of this model, so a typo fails here instead of training a smaller adapter.
 */
export function findTargetModules(weights: WeightSource, targets: LoraTargets): string[] {
  const names = targetModuleNames(targets);
  const linears = weights.names()
    .filter((n) => n.endsWith('.weight') && weights.shape(n).length === 2)
    .map((n) => n.slice(0, -'.weight'.length));
  const out = names ? linears.filter((path) => names.some((t) => matches(path, t))) : linears;
  if (Array.isArray(targets)) {
    const unmatched = targets.filter((t) => !linears.some((path) => matches(path, t)));
    if (unmatched.length) throw new LoraError(`LoRA targets ${unmatched.map((t) => `'${t}'`).join(', ')} match no Linear module of this model`);
  }
  if (!out.length) throw new LoraError(`no Linear module of this model matches the LoRA targets preset '${targets}'`);
  return out.sort();
}

/** The targets as stored in adapter metadata: a preset name, or a JSON list of names. */
function parseTargets(stored: string): LoraTargets {
  if (isLoraTargetPreset(stored)) return stored;
  const parsed: unknown = JSON.parse(stored);
  if (isLoraTargetPreset(parsed) || (Array.isArray(parsed) && parsed.every((t) => typeof t === 'string'))) return parsed as LoraTargets;
  throw new LoraError(`adapter metadata 'targets' is neither a preset nor a list of module names: ${stored.slice(0, 200)}`);
}

/** A new adapter as PEFT starts one: A ~ N(0, 1/in_features), B = 0, so the adapter begins as a no-op. */
export function initLora(weights: WeightSource, config: LoraConfig, seed: number): LoraAdapter {
  const modules = new Map<string, { A: HostTensor; B: HostTensor }>();
  findTargetModules(weights, config.targets).forEach((path, i) => {
    const [outF, inF] = weights.shape(`${path}.weight`);
    modules.set(path, {
      A: hostTensor('float32', [config.rank, inF], new Rng(seed, i).fillNormal(new Float32Array(config.rank * inF), 0, 1 / Math.sqrt(inF))),
      B: hostTensor('float32', [outF, config.rank]),
    });
  });
  return { config, modules };
}

export const loraKey = (path: string, part: 'A' | 'B', prefix = 'unet.') => `${prefix}${path}.lora_${part}.weight`;

const SPELLINGS: [RegExp, 'A' | 'B'][] = [
  [/^(?:unet\.)?(.+)\.lora_A(?:\.default)?\.weight$/, 'A'],
  [/^(?:unet\.)?(.+)\.lora_B(?:\.default)?\.weight$/, 'B'],
  [/^(?:unet\.)?(.+)\.lora\.down\.weight$/, 'A'],
  [/^(?:unet\.)?(.+)\.lora\.up\.weight$/, 'B'],
  // diffusers' older attention-processor spelling: …attn1.processor.to_q_lora.down.weight
  [/^(?:unet\.)?(.+)\.processor\.(to_q|to_k|to_v|to_out)_lora\.down\.weight$/, 'A'],
  [/^(?:unet\.)?(.+)\.processor\.(to_q|to_k|to_v|to_out)_lora\.up\.weight$/, 'B'],
];

/** Loads an adapter in PEFT (`lora_A`/`lora_B`) or older (`lora.down`/`lora.up`) spelling. */
export function loadLora(path: string, fallback?: Partial<LoraConfig>): LoraAdapter {
  const file = SafetensorsFile.open(path);
  const parts = new Map<string, { A?: HostTensor; B?: HostTensor }>();
  for (const key of file.tensors.keys()) {
    let matched = false;
    for (const [re, part] of SPELLINGS) {
      const m = re.exec(key);
      if (!m) continue;
      const module = m[2] ? `${m[1]}.${m[2] === 'to_out' ? 'to_out.0' : m[2]}` : m[1];
      const entry = parts.get(module) ?? {};
      entry[part] = file.read(key);
      parts.set(module, entry);
      matched = true;
      break;
    }
    if (!matched && !key.endsWith('.alpha')) throw new LoraError(`${path}: tensor '${key}' is not a LoRA A/B weight in any known spelling`);
  }
  const modules = new Map<string, { A: HostTensor; B: HostTensor }>();
  let rank = 0;
  for (const [module, { A, B }] of parts) {
    if (!A || !B) throw new LoraError(`${path}: module '${module}' has ${A ? 'no B (up)' : 'no A (down)'} weight`);
    if (A.shape[0] !== B.shape[1]) throw new LoraError(`${path}: module '${module}' has A [${A.shape}] and B [${B.shape}] of different ranks`);
    if (rank && A.shape[0] !== rank) throw new LoraError(`${path}: modules have different ranks (${rank} and ${A.shape[0]} at '${module}'); one adapter has one rank`);
    rank = A.shape[0];
    modules.set(module, { A: toF32(A), B: toF32(B) });
  }
  if (!modules.size) throw new LoraError(`${path}: no LoRA tensors found`);
  const meta = file.metadata;
  const config: LoraConfig = {
    rank: Number(meta.rank ?? fallback?.rank ?? rank),
    alpha: Number(meta.alpha ?? fallback?.alpha ?? rank),
    targets: meta.targets ? parseTargets(meta.targets) : (fallback?.targets ?? DEFAULT_TARGETS),
  };
  return { config, modules };
}

function toF32(t: HostTensor): HostTensor {
  return t.dtype === 'float32' ? t : { dtype: 'float32', shape: t.shape, data: toFloat32(t) };
}

export interface AdapterMetadata {
  method: string;
  baseModelSha256?: string;
  step?: number;
  extra?: Record<string, string>;
}

/**
 * Writes an adapter with PEFT key names (`unet.<path>.lora_A.weight`) and metadata that diffusers'
 * `load_lora_weights` reads. `target_modules` lists the adapted module paths, as diffusers derives them from the
 * keys of a file without metadata; `targets` keeps what the job asked for (a preset or names).
 */
export function saveLora(path: string, adapter: LoraAdapter, meta: AdapterMetadata): void {
  const { rank, alpha, targets } = adapter.config;
  const modulePaths = [...adapter.modules.keys()].sort();
  writeSafetensors(path, adapterFeeds(adapter), {
    format: 'pt',
    rank: String(rank),
    alpha: String(alpha),
    targets: JSON.stringify(targets),
    method: meta.method,
    base_model_sha256: meta.baseModelSha256 ?? '',
    step: String(meta.step ?? 0),
    lora_adapter_metadata: JSON.stringify({ 'unet.r': rank, 'unet.lora_alpha': alpha, 'unet.target_modules': modulePaths }),
    ...meta.extra,
  });
}

/** A targeted module's path and Linear sizes, as graph builders need them. */
export interface LoraModuleSpec {
  path: string;
  in: number;
  out: number;
}

/** Module paths and Linear sizes of the modules `targets` selects in `weights` (what initLora would adapt), without making an adapter. */
export function targetModuleSpecs(weights: WeightSource, targets: LoraTargets): LoraModuleSpec[] {
  return findTargetModules(weights, targets).map((path) => {
    const [out, inF] = weights.shape(`${path}.weight`);
    return { path, in: inF, out };
  });
}

/** Module paths and Linear sizes of an adapter, as graph builders need them. */
export function moduleSpecs(adapter: LoraAdapter): LoraModuleSpec[] {
  return [...adapter.modules.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([path, { A, B }]) => ({ path, in: A.shape[1], out: B.shape[0] }));
}

/** Every A and B under its PEFT key: the step graph's feeds, and the tensors of a saved adapter. */
export function adapterFeeds(adapter: LoraAdapter): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  for (const [path, { A, B }] of adapter.modules) {
    feeds[loraKey(path, 'A')] = A;
    feeds[loraKey(path, 'B')] = B;
  }
  return feeds;
}
