import { join } from 'node:path';
import { SdxlTextEncoders, TextEncoder } from '@npo/diffusion';
import type { ExecutionProvider } from '@npo/graph';

/** What both guidance branches are conditioned on when sampling n prompts. */
export interface PromptConditioning {
  /** [n, S, D]: one embedding per prompt (the positive branch). */
  cond: Float32Array;
  /** [S, D]: the negative branch, shared by every prompt. */
  negative: Float32Array;
  /** [S, D] of one embedding. */
  embedShape: [number, number];
  /** text_time UNets (SDXL) only: the pooled prompt embeddings, [n, width] and the negative's [width]. */
  pooled: { width: number; cond: Float32Array; negative: Float32Array } | null;
}

/**
 * The prompts' and the negative prompt's conditioning. SD: text_encoder's last hidden state, an empty negative
 * prompt is the unconditional (empty-string) embedding. SDXL (a text_time UNet): both encoders' penultimate states
 * and encoder 2's pooled projection; an empty negative prompt is zeros when model_index.json's
 * force_zeros_for_empty_prompt is set (the pipeline's default), as StableDiffusionXLPipeline does. The encoders are
 * released before returning: sampling needs only the embeddings.
 */
export async function encodePromptConditioning(o: {
  modelDir: string;
  workDir: string;
  prompts: string[];
  negativePrompt?: string;
  textTime: boolean;
  executionProvider?: ExecutionProvider;
}): Promise<PromptConditioning> {
  const opts = { workDir: join(o.workDir, 'text'), batch: o.prompts.length, executionProvider: o.executionProvider };
  if (!o.textTime) {
    const text = await TextEncoder.create(o.modelDir, opts);
    try {
      const cond = (await text.encode(o.prompts)).lastHiddenState;
      const negative = (o.negativePrompt ? await text.encode([o.negativePrompt]) : await text.unconditional()).lastHiddenState;
      return { cond, negative, embedShape: [text.sequenceLength, negative.length / text.sequenceLength], pooled: null };
    } finally {
      await text.release();
    }
  }
  const text = await SdxlTextEncoders.create(o.modelDir, opts);
  try {
    const cond = await text.encode(o.prompts);
    const negative = o.negativePrompt ? await text.encode([o.negativePrompt]) : await text.emptyNegative();
    return {
      cond: cond.promptEmbeds,
      negative: negative.promptEmbeds,
      embedShape: text.embedShape,
      pooled: { width: text.pooledWidth, cond: cond.pooled, negative: negative.pooled },
    };
  } finally {
    await text.release();
  }
}
