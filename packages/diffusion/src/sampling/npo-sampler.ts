import { hostTensor, numel, type HostTensor, type Session } from '@npo/graph';
import { loraKey, type LoraAdapter } from '../lora/adapter.ts';
import { alphasCumprod, type SchedulerConfig } from '../schedule/noise-schedule.ts';
import { ddimStep } from './ddim.ts';
import { EulerSampler } from './euler.ts';
import { slotScaleName, slotTensorName, type AdapterSlot } from './guidance-graph.ts';
import { TIME_IDS } from '../unet/config.ts';
import { inferenceTimesteps } from './timesteps.ts';

/** `n` copies of `x` back to back. */
function tile(x: Float32Array, n: number): Float32Array {
  const out = new Float32Array(x.length * n);
  for (let i = 0; i < n; i++) out.set(x, i * x.length);
  return out;
}

export interface GuidedSampleOptions {
  /** [B, C, H, W] initial noise (times the Euler init sigma, applied here). */
  latents: Float32Array;
  /** [B, T, D] prompt embeddings, and the negative/unconditional ones. */
  cond: Float32Array;
  uncond: Float32Array;
  /** text_time UNets (SDXL): [B, pooled] pooled embeddings of the prompts and of the negative prompts. */
  condPooled?: Float32Array;
  uncondPooled?: Float32Array;
  /** text_time UNets: [B, 6] micro-conditioning per sample, shared by both branches (default: `defaultTimeIds`). */
  timeIds?: Float32Array;
  guidance: number;
  steps: number;
  sampler?: 'ddim' | 'euler';
  clipSample?: boolean;
  /** Final ᾱ_prev = 1 (DDIM `set_alpha_to_one`); default from the scheduler config. */
  setAlphaToOne?: boolean;
  /** Keep every step's tensors (reference checks, debugging). */
  trace?: boolean;
  /** Checked before every denoising step: an abort throws its reason between UNet calls. */
  signal?: AbortSignal;
}

export interface TraceStep {
  t: number;
  epsCond: Float32Array;
  epsUncond: Float32Array;
  epsGuided: Float32Array;
  predOriginal: Float32Array;
  latents: Float32Array;
}

export interface AdapterUse {
  adapter: LoraAdapter;
  /** Multiplier on alpha/r in the positive and the negative branch. */
  positiveScale: number;
  negativeScale: number;
}

/**
 * Classifier-free guidance where each branch may carry its own adapters: ε̂ = ε_neg + w·(ε_pos − ε_neg),
 * one batched UNet call per step ([positive; negative]). NPO: a positive scale 0 and a negative scale 1.
 */
export class GuidedSampler {
  private readonly acp: Float32Array;
  constructor(
    private readonly session: Session,
    private readonly scheduler: SchedulerConfig,
    private readonly batch: number,
    private readonly latentShape: number[],
    private readonly embedShape: number[],
    private readonly slots: AdapterSlot[],
    /** A text_time UNet's pooled width and its default micro-conditioning (`defaultTimeIds`); null for others. */
    private readonly added: { pooled: number; timeIds: Float32Array } | null = null,
  ) {
    this.acp = alphasCumprod(scheduler);
  }

  private adapterFeeds(uses: Record<string, AdapterUse | undefined>): Record<string, HostTensor> {
    const feeds: Record<string, HostTensor> = {};
    const B = this.batch;
    for (const slot of this.slots) {
      const use = uses[slot.name];
      const scale = new Float32Array(2 * B);
      for (const m of slot.modules) {
        const mod = use?.adapter.modules.get(m.path);
        feeds[slotTensorName(slot.name, loraKey(m.path, 'A'))] = mod?.A ?? hostTensor('float32', [slot.rank, m.in]);
        feeds[slotTensorName(slot.name, loraKey(m.path, 'B'))] = mod?.B ?? hostTensor('float32', [m.out, slot.rank]);
      }
      if (use) {
        const base = use.adapter.config.alpha / use.adapter.config.rank;
        scale.fill(base * use.positiveScale, 0, B);
        scale.fill(base * use.negativeScale, B);
      }
      feeds[slotScaleName(slot.name)] = hostTensor('float32', [2 * B], scale);
    }
    return feeds;
  }

  /** The [positive; negative] text_embeds and time_ids a text_time UNet takes; none for other UNets. */
  private addedFeeds(o: GuidedSampleOptions): Record<string, HostTensor> {
    const B = this.batch;
    if (!this.added) {
      if (o.condPooled || o.uncondPooled || o.timeIds) throw new Error('sampler: pooled embeddings / time ids given, but the UNet takes none');
      return {};
    }
    const { pooled, timeIds } = this.added;
    if (o.condPooled?.length !== B * pooled || o.uncondPooled?.length !== B * pooled)
      throw new Error(`sampler: this UNet needs condPooled and uncondPooled of ${B}×[${pooled}]`);
    const ids = o.timeIds ?? tile(timeIds, B);
    if (ids.length !== B * TIME_IDS) throw new Error(`sampler: timeIds: expected ${B}×[${TIME_IDS}]`);
    const textEmbeds = new Float32Array(2 * B * pooled);
    textEmbeds.set(o.condPooled, 0);
    textEmbeds.set(o.uncondPooled, B * pooled);
    return {
      text_embeds: hostTensor('float32', [2 * B, pooled], textEmbeds),
      time_ids: hostTensor('float32', [2 * B, TIME_IDS], tile(ids, 2)),
    };
  }

  async sample(o: GuidedSampleOptions, uses: Record<string, AdapterUse | undefined> = {}): Promise<{ latents: Float32Array; trace: TraceStep[] }> {
    const B = this.batch;
    const per = numel(this.latentShape);
    const perEmb = numel(this.embedShape);
    if (o.latents.length !== B * per) throw new Error(`latents: expected ${B}×[${this.latentShape}]`);
    if (o.cond.length !== B * perEmb || o.uncond.length !== B * perEmb) throw new Error(`embeddings: expected ${B}×[${this.embedShape}]`);
    const timesteps = inferenceTimesteps(this.scheduler, o.steps);
    const adapters = this.adapterFeeds(uses);
    const embeds = new Float32Array(2 * B * perEmb);
    embeds.set(o.cond, 0);
    embeds.set(o.uncond, B * perEmb);
    const added = this.addedFeeds(o);
    const euler = o.sampler === 'euler' ? new EulerSampler(this.scheduler, this.acp, timesteps) : null;
    let x: Float32Array = euler ? o.latents.map((v) => v * euler.initNoiseSigma) : o.latents.slice();
    const trace: TraceStep[] = [];
    for (let i = 0; i < timesteps.length; i++) {
      o.signal?.throwIfAborted();
      const t = timesteps[i];
      const input = euler ? euler.scaleInput(x, i) : x;
      const doubled = new Float32Array(2 * B * per);
      doubled.set(input, 0);
      doubled.set(input, B * per);
      const out = await this.session.run({
        ...adapters,
        sample: hostTensor('float32', [2 * B, ...this.latentShape], doubled),
        timesteps: hostTensor('float32', [2 * B], new Float32Array(2 * B).fill(t)),
        embeds: hostTensor('float32', [2 * B, ...this.embedShape], embeds),
        ...added,
      });
      const eps = out.model_output.data as Float32Array;
      const pos = eps.subarray(0, B * per);
      const neg = eps.subarray(B * per);
      const guided = new Float32Array(B * per);
      for (let k = 0; k < guided.length; k++) guided[k] = neg[k] + o.guidance * (pos[k] - neg[k]);
      const step = euler
        ? euler.step(i, x, guided)
        : ddimStep(this.scheduler, this.acp, o.steps, t, x, guided, { clipSample: o.clipSample, setAlphaToOne: o.setAlphaToOne });
      x = step.prevSample;
      if (o.trace) trace.push({ t, epsCond: pos.slice(), epsUncond: neg.slice(), epsGuided: guided, predOriginal: step.predOriginal, latents: x });
    }
    return { latents: x, trace };
  }
}
