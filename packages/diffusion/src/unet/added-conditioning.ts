import type { Graph, Value } from '@npo/graph';
import { pooledEmbedWidth, TIME_IDS, type UNetConfig } from './config.ts';

/** What a text_time UNet (SDXL) takes beside the prompt embeddings, per sample in batch order. */
export interface AddedConditioning {
  /** [B, pooled]: the pooled prompt embedding (text_encoder_2's projection). */
  textEmbeds: Value;
  /** [B, 6]: original size, crop top-left, target size. */
  timeIds: Value;
}

/**
 * A text_time UNet's per-sample conditioning as graph inputs `${prefix}text_embeds` [batch, pooled] and
 * `${prefix}time_ids` [batch, 6]; undefined for a UNet without it.
 */
export function addedConditioningInputs(g: Graph, config: UNetConfig, batch: number, prefix: string): AddedConditioning | undefined {
  if (!config.addition) return undefined;
  return {
    textEmbeds: g.input(`${prefix}text_embeds`, 'float32', [batch, pooledEmbedWidth(config.addition)]),
    timeIds: g.input(`${prefix}time_ids`, 'float32', [batch, TIME_IDS]),
  };
}
