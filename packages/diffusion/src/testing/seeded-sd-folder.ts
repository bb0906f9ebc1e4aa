import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '@npo/graph';
import { SD15_SCHEDULER } from '../schedule/noise-schedule.ts';
import { parseClipTextConfig } from '../text/clip-config.ts';
import { clipTextParameterShapes } from '../text/clip-parameters.ts';
import { writeTokenizerFolder } from '../text/tokenizer-build.ts';
import { parseUNetConfig } from '../unet/config.ts';
import { unetParameterShapes } from '../unet/parameters.ts';
import { parseVaeConfig } from '../vae/config.ts';
import { vaeParameterShapes } from '../vae/parameters.ts';
import { seededWeights } from './seeded-weights.ts';

type RawConfig = Record<string, unknown>;

export interface SeededSdFolderOptions {
  /** unet/config.json of a latent UNet (e.g. packages/diffusion/test/fixtures/configs/sd15-unet.json). */
  unet: RawConfig;
  /** text_encoder/config.json of a CLIP text model; its bos/eos/pad ids become the written tokenizer's. */
  textEncoder: RawConfig;
  /** vae/config.json of an AutoencoderKL. */
  vae: RawConfig;
  /** Words the tokenizer knows as single tokens (tokenizer-build.ts); it pads to the text encoder's max_position_embeddings. */
  words: string[];
  /** Each part's weights are seededWeights of its parameter shapes with this seed (so the UNet's bytes are the bench's for the same config and seed). */
  seed: number;
  /** float16: every part stored in fp16, as SD1.5's fp16 variant ships (under the standard file names). */
  dtype?: 'float32' | 'float16';
}

/**
 * Writes an SD1.x diffusers folder (model_index.json naming StableDiffusionPipeline, unet/, vae/, text_encoder/,
 * tokenizer/, scheduler/ with SD1.5's noise schedule) of any size, every weight seeded from its config's parameter
 * shapes: a full-size SD1.5-shaped model for the service without downloading one, or the same layout at toy size.
 */
export function writeSeededSdFolder(dir: string, o: SeededSdFolderOptions): void {
  const dtype = o.dtype ?? 'float32';
  const json = (path: string, v: unknown) => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), JSON.stringify(v, null, 2));
  };
  const weights = (path: string, shapes: Map<string, number[]>) =>
    writeSafetensors(join(dir, path), seededWeights(shapes, o.seed, dtype), { format: 'pt', generator: 'npo-forge seeded folder', seed: String(o.seed) });

  json('model_index.json', {
    _class_name: 'StableDiffusionPipeline',
    unet: ['diffusers', 'UNet2DConditionModel'],
    vae: ['diffusers', 'AutoencoderKL'],
    text_encoder: ['transformers', 'CLIPTextModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    scheduler: ['diffusers', 'DDIMScheduler'],
  });
  json('scheduler/scheduler_config.json', { _class_name: 'DDIMScheduler', ...SD15_SCHEDULER });

  json('unet/config.json', o.unet);
  weights('unet/diffusion_pytorch_model.safetensors', unetParameterShapes(parseUNetConfig(o.unet)));

  const { vocab } = writeTokenizerFolder(join(dir, 'tokenizer'), { words: o.words, modelMaxLength: parseClipTextConfig(o.textEncoder).max_position_embeddings });
  const eos = vocab['<|endoftext|>'];
  // a toy config may have fewer embeddings than the CLIP-layout vocabulary has ids (at least the 512 byte tokens)
  const vocabSize = Math.max(Number(o.textEncoder.vocab_size ?? 0), Object.keys(vocab).length);
  const textEncoder = { ...o.textEncoder, vocab_size: vocabSize, bos_token_id: vocab['<|startoftext|>'], eos_token_id: eos, pad_token_id: eos };
  json('text_encoder/config.json', textEncoder);
  weights('text_encoder/model.safetensors', clipTextParameterShapes(parseClipTextConfig(textEncoder)));

  json('vae/config.json', o.vae);
  weights('vae/diffusion_pytorch_model.safetensors', vaeParameterShapes(parseVaeConfig(o.vae)));
}
