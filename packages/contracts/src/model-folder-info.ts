import type { ModelShapeInfo } from './hyperparameters.ts';

/** The model families a diffusers folder can hold: SD1.x (CLIP ViT-L), SD2.x (OpenCLIP ViT-H), SDXL (two encoders, text_time UNet). */
export const MODEL_KINDS = ['sd15', 'sd2', 'sdxl'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

/**
 * What the one model-folder reader (packages/diffusion/src/model-folder/read-model-folder.ts) says about a folder.
 * The worker stores it as the model's `info` (beside upload_key and files_sha256); the API's defaults read it back
 * with `modelShapeOf`. Typed here because the API, which never opens a folder, reads it.
 */
export interface ModelFolderInfo extends ModelShapeInfo {
  kind: ModelKind;
  hasVae: boolean;
  vaeScaleFactor: number | null;
  inChannels: number;
  outChannels: number;
  /** The weights file each part with weights uses, by part folder (`unet` → `diffusion_pytorch_model.fp16.safetensors`). */
  weights: Record<string, string>;
}

/**
 * The model shape the hyperparameter defaults need, from a model row's stored info. Rows validated before the reader
 * stored `vaeScaleFactor` (and any row without info) read as an SD-class latent model: scale 8, sample size 64.
 */
export function modelShapeOf(info: unknown): ModelShapeInfo {
  const i = (info ?? {}) as Partial<ModelFolderInfo>;
  return { pixelSpace: i.pixelSpace ?? false, sampleSize: i.sampleSize ?? 64, vaeScaleFactor: i.vaeScaleFactor ?? null };
}
