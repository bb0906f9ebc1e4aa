import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Graph, hostTensor, type ExecutionProvider, type HostTensor, type Session } from '@npo/graph';
import { ArtifactDir } from '../model/artifacts.ts';
import { findWeightsFile } from '../model/weights.ts';
import { WEIGHT_FILES } from '../model-folder/read-model-folder.ts';
import { parseClipTextConfig, type ClipTextConfig } from './clip-config.ts';
import { clipTextForward, penultimateHiddenState, stackHiddenStates } from './clip-text-model.ts';
import { ClipTokenizer } from './tokenizer.ts';

/** The weights file of a text encoder folder (text_encoder/ and text_encoder_2/ take the same names). */
export function clipWeightsPath(textEncoderDir: string): string {
  return findWeightsFile(textEncoderDir, WEIGHT_FILES.text_encoder);
}

export interface TextEncoderOptions {
  /** Where compiled graphs and links to the weights go. */
  workDir: string;
  /** Prompts per run; longer lists are encoded in several runs, the last one padded. */
  batch: number;
  executionProvider?: ExecutionProvider;
  threads?: number;
  /** Also return every layer's hidden states (for "clip skip"). */
  hiddenStates?: boolean;
  /** The encoder's and tokenizer's subfolders (default `text_encoder`, `tokenizer`; SDXL's second pair is `text_encoder_2`, `tokenizer_2`). */
  parts?: { encoder: string; tokenizer: string };
  /** Mask padding keys too (transformers' attention_mask); SD pipelines do not, so the default is the causal mask only. */
  maskPadding?: boolean;
}

export interface TextEncoding {
  /** [n, S, D], row-major */
  lastHiddenState: Float32Array;
  /** [n, D]: the hidden state at each prompt's EOS */
  pooled: Float32Array;
  /** [n, S, D]: hidden_states[-2], the second-to-last layer's output before final_layer_norm (what SDXL conditions on) */
  penultimate: Float32Array;
  /** [n, projection_dim]: CLIPTextModelWithProjection's `text_projection` of the pooled state (SDXL's pooled prompt embedding) */
  textEmbeds?: Float32Array;
  /** whether each prompt lost tokens to the length limit */
  truncated: boolean[];
  /** [L + 1, n, S, D] (embeddings, then each layer before final_layer_norm), when asked for at creation */
  hiddenStates?: Float32Array;
}

/**
 * transformers' CLIPTextModel of a model folder (`text_encoder/` + `tokenizer/`), compiled for one batch size:
 * prompts in, the embeddings SD pipelines condition on out.
 */
export class TextEncoder {
  private uncond: TextEncoding | null = null;

  private constructor(
    readonly config: ClipTextConfig,
    readonly tokenizer: ClipTokenizer,
    readonly batch: number,
    private readonly session: Session,
    private readonly opts: TextEncoderOptions,
  ) {}

  /** Tokens per prompt (the tokenizer's model_max_length). */
  get sequenceLength(): number {
    return this.tokenizer.modelMaxLength;
  }

  static async create(modelDir: string, opts: TextEncoderOptions): Promise<TextEncoder> {
    const parts = opts.parts ?? { encoder: 'text_encoder', tokenizer: 'tokenizer' };
    const teDir = join(modelDir, parts.encoder);
    const config = parseClipTextConfig(JSON.parse(readFileSync(join(teDir, 'config.json'), 'utf8')));
    const tokenizer = ClipTokenizer.fromFolder(join(modelDir, parts.tokenizer));
    const s = tokenizer.modelMaxLength;
    if (s > config.max_position_embeddings)
      throw new Error(`text encoder: the tokenizer pads to ${s} tokens, the model has only ${config.max_position_embeddings} positions`);
    if (!Number.isInteger(opts.batch) || opts.batch < 1) throw new Error(`text encoder: batch must be a positive integer, got ${opts.batch}`);
    const artifacts = new ArtifactDir(opts.workDir);
    const weights = artifacts.weights(clipWeightsPath(teDir), `${parts.encoder}.safetensors`);
    const g = new Graph();
    const ids = g.input('input_ids', 'int64', [opts.batch, s]);
    const mask = opts.maskPadding ? g.input('attention_mask', 'int64', [opts.batch, s]) : null;
    const out = clipTextForward({ g, weights, adapters: [] }, config, ids, mask);
    g.output('last_hidden_state', out.lastHiddenState);
    g.output('pooler_output', out.pooled);
    g.output('penultimate', penultimateHiddenState(out));
    if (out.textEmbeds) g.output('text_embeds', out.textEmbeds);
    if (opts.hiddenStates) g.output('hidden_states', stackHiddenStates(out.hiddenStates));
    const name = `${parts.encoder}_b${opts.batch}${opts.maskPadding ? '_masked' : ''}${opts.hiddenStates ? '_hs' : ''}`;
    const { session } = await artifacts.compile(g, name, { executionProvider: opts.executionProvider, threads: opts.threads });
    return new TextEncoder(config, tokenizer, opts.batch, session, opts);
  }

  async encode(prompts: string[]): Promise<TextEncoding> {
    const n = prompts.length;
    const s = this.sequenceLength;
    const d = this.config.hidden_size;
    const layers = this.config.num_hidden_layers + 1;
    const result: TextEncoding = {
      lastHiddenState: new Float32Array(n * s * d),
      pooled: new Float32Array(n * d),
      penultimate: new Float32Array(n * s * d),
      textEmbeds: this.config.projection_dim === null ? undefined : new Float32Array(n * this.config.projection_dim),
      truncated: [],
      hiddenStates: this.opts.hiddenStates ? new Float32Array(layers * n * s * d) : undefined,
    };
    for (let start = 0; start < n; start += this.batch) {
      const chunk = prompts.slice(start, start + this.batch);
      const tokens = this.tokenizer.encodeBatch([...chunk, ...Array(this.batch - chunk.length).fill('')]);
      const feeds: Record<string, HostTensor> = { input_ids: hostTensor('int64', [this.batch, s], tokens.inputIds) };
      if (this.opts.maskPadding) feeds.attention_mask = hostTensor('int64', [this.batch, s], tokens.attentionMask);
      const res = await this.session.run(feeds);
      const m = chunk.length;
      result.lastHiddenState.set((res.last_hidden_state.data as Float32Array).subarray(0, m * s * d), start * s * d);
      result.pooled.set((res.pooler_output.data as Float32Array).subarray(0, m * d), start * d);
      result.penultimate.set((res.penultimate.data as Float32Array).subarray(0, m * s * d), start * s * d);
      if (result.textEmbeds) {
        const p = this.config.projection_dim!;
        result.textEmbeds.set((res.text_embeds.data as Float32Array).subarray(0, m * p), start * p);
      }
      result.truncated.push(...tokens.truncated.slice(0, m));
      if (result.hiddenStates) {
        const hs = res.hidden_states.data as Float32Array;
        for (let l = 0; l < layers; l++)
          result.hiddenStates.set(hs.subarray(l * this.batch * s * d, (l * this.batch + m) * s * d), (l * n + start) * s * d);
      }
    }
    return result;
  }

  /** The empty prompt's embedding: the unconditional branch of classifier-free guidance (cached). */
  async unconditional(): Promise<TextEncoding> {
    this.uncond ??= await this.encode(['']);
    return this.uncond;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
