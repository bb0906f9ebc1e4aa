import { join } from 'node:path';
import { ClipTokenizer, pixelLatentShape, readVaeConfig, vaeLatentShape } from '@npo/diffusion';
import type { ModelFolder } from './model-folder.ts';

/**
 * The shapes of one pair once prepared — [C, H, W] of a latent (a pixel image for a pixel-space model) and
 * [tokens, width] of a prompt embedding — from the model folder's configs alone, so a job can be sized before its
 * dataset is encoded. Preparation (encode-dataset.ts) makes exactly these: the VAE's latents at `resolution`, the
 * first tokenizer's padded length, and embeddings it refuses unless they are the UNet's cross_attention_dim wide.
 */
export function preparedShapes(model: ModelFolder, resolution: number): { latentShape: number[]; embedShape: number[] } {
  const latentShape = model.pixelSpace ? pixelLatentShape(resolution) : vaeLatentShape(readVaeConfig(join(model.dir, 'vae')), resolution);
  const tokens = ClipTokenizer.fromFolder(join(model.dir, 'tokenizer')).modelMaxLength;
  return { latentShape, embedShape: [tokens, model.unetConfig.cross_attention_dim] };
}
