import { readModelFolder } from '../model-folder/read-model-folder.ts';
import { join } from 'node:path';
import { TextEncoder, type TextEncoderOptions } from './clip-text-encoder.ts';
import { concatPromptEmbeds } from './sdxl-prompt-embeds.ts';

/** What an SDXL UNet is conditioned on for n prompts. */
export interface SdxlPromptEncoding {
  /** [n, S, D1 + D2] */
  promptEmbeds: Float32Array;
  /** [n, projection_dim] */
  pooled: Float32Array;
  truncated: boolean[];
}

/**
 * SDXL's two text encoders (`text_encoder/` + `tokenizer/`, `text_encoder_2/` + `tokenizer_2/`, each tokenizer
 * with its own special tokens and pad token): prompt embeddings = both penultimate states concatenated, pooled =
 * text_encoder_2's projected EOS state.
 */
export class SdxlTextEncoders {
  private negative: SdxlPromptEncoding | null = null;

  private constructor(
    readonly first: TextEncoder,
    readonly second: TextEncoder,
    /** model_index.json's force_zeros_for_empty_prompt (the pipeline's default: true). */
    readonly forceZerosForEmptyPrompt: boolean,
  ) {}

  static async create(modelDir: string, opts: Omit<TextEncoderOptions, 'parts'>): Promise<SdxlTextEncoders> {
    const first = await TextEncoder.create(modelDir, { ...opts, workDir: join(opts.workDir, 'text_encoder') });
    const second = await TextEncoder.create(modelDir, {
      ...opts, workDir: join(opts.workDir, 'text_encoder_2'), parts: { encoder: 'text_encoder_2', tokenizer: 'tokenizer_2' },
    });
    if (second.config.projection_dim === null)
      throw new Error('SDXL text_encoder_2/config.json must be a CLIPTextModelWithProjection (its projection is the pooled prompt embedding)');
    if (first.sequenceLength !== second.sequenceLength)
      throw new Error(`SDXL tokenizers pad to different lengths: tokenizer/ ${first.sequenceLength}, tokenizer_2/ ${second.sequenceLength}`);
    return new SdxlTextEncoders(first, second, readForceZeros(modelDir));
  }

  get sequenceLength(): number {
    return this.first.sequenceLength;
  }

  /** [S, D1 + D2] of one prompt embedding. */
  get embedShape(): [number, number] {
    return [this.sequenceLength, this.first.config.hidden_size + this.second.config.hidden_size];
  }

  get pooledWidth(): number {
    return this.second.config.projection_dim!;
  }

  async encode(prompts: string[]): Promise<SdxlPromptEncoding> {
    const a = await this.first.encode(prompts);
    const b = await this.second.encode(prompts);
    return {
      promptEmbeds: concatPromptEmbeds(a.penultimate, this.first.config.hidden_size, b.penultimate, this.second.config.hidden_size),
      pooled: b.textEmbeds!,
      truncated: a.truncated.map((t, i) => t || b.truncated[i]),
    };
  }

  /**
   * The negative branch's conditioning when no negative prompt is given: zeros when force_zeros_for_empty_prompt
   * is set (the SDXL pipeline's `zero_out_negative_prompt`), else the empty prompt's encoding.
   */
  async emptyNegative(): Promise<SdxlPromptEncoding> {
    if (!this.negative) {
      const [s, d] = this.embedShape;
      this.negative = this.forceZerosForEmptyPrompt
        ? { promptEmbeds: new Float32Array(s * d), pooled: new Float32Array(this.pooledWidth), truncated: [false] }
        : await this.encode(['']);
    }
    return this.negative;
  }

  async release(): Promise<void> {
    await this.first.release();
    await this.second.release();
  }
}

/** model_index.json's force_zeros_for_empty_prompt; StableDiffusionXLPipeline's default (true) when absent. */
export function readForceZeros(modelDir: string): boolean {
  // through the one model-folder reader; the pipeline's default (true) when model_index.json is absent or silent
  const v = readModelFolder(modelDir).configs.model_index?.force_zeros_for_empty_prompt;
  return v === undefined || v === true;
}
