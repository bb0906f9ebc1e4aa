import type { SafetensorsFile } from '@npo/graph';
import { TIME_IDS } from '../unet/config.ts';
import { CONFIG_FILES, SDXL_PIPELINE, type ModelFolderReading } from './read-model-folder.ts';

const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/**
 * Whether an SDXL folder's seven parts fit together, each problem naming the field and the file it is in: the UNet
 * cross-attends to both encoders' penultimate states concatenated (cross_attention_dim = the two hidden sizes), and its
 * text_time embedding (add_embedding.linear_1) reads text_encoder_2's pooled projection beside six time-id sinusoids.
 * Configs that could not be read are already reported by the reader; their checks are skipped here.
 */
export function sdxlConsistencyProblems(
  r: ModelFolderReading,
  weights: { unet: SafetensorsFile | null; text_encoder: SafetensorsFile | null; text_encoder_2: SafetensorsFile | null },
): string[] {
  const problems: string[] = [];
  const { unet, text_encoder: te1, text_encoder_2: te2 } = r.configs;
  if (r.pipelineClass !== null && r.pipelineClass !== SDXL_PIPELINE)
    problems.push(`${CONFIG_FILES.model_index}: _class_name is ${JSON.stringify(r.pipelineClass)}, but ${CONFIG_FILES.unet} is an SDXL UNet (addition_embed_type "text_time"); SDXL folders name ${SDXL_PIPELINE}`);
  if (unet && unet.addition_embed_type !== 'text_time')
    problems.push(`${CONFIG_FILES.unet}: addition_embed_type is ${JSON.stringify(unet.addition_embed_type ?? null)}, ${SDXL_PIPELINE} needs "text_time"`);

  // each encoder's width, from its config and as its weights have it
  for (const [part, cfg, file] of [['text_encoder', te1, weights.text_encoder], ['text_encoder_2', te2, weights.text_encoder_2]] as const) {
    if (!cfg) continue;
    const rel = CONFIG_FILES[part];
    if (!isPositiveInt(cfg.hidden_size)) {
      problems.push(`${rel}: hidden_size ${JSON.stringify(cfg.hidden_size ?? null)} must be a positive integer`);
      continue;
    }
    const embedding = file?.tensors.get('text_model.embeddings.token_embedding.weight');
    if (file && embedding && embedding.shape[1] !== cfg.hidden_size)
      problems.push(`${part}/${r.info.weights[part]}: text_model.embeddings.token_embedding.weight is [${embedding.shape}], its width ${embedding.shape[1]} ≠ ${rel} hidden_size ${cfg.hidden_size}`);
  }
  const projection = te2?.projection_dim;
  if (te2 && !isPositiveInt(projection))
    problems.push(`${CONFIG_FILES.text_encoder_2}: projection_dim ${JSON.stringify(projection ?? null)} must be a positive integer (SDXL's pooled prompt embedding is text_encoder_2's projection: a CLIPTextModelWithProjection)`);
  const projectionWeight = weights.text_encoder_2?.tensors.get('text_projection.weight');
  if (te2 && isPositiveInt(projection) && isPositiveInt(te2.hidden_size)) {
    if (!projectionWeight) {
      if (weights.text_encoder_2) problems.push(`text_encoder_2/${r.info.weights.text_encoder_2}: text_projection.weight is missing (${CONFIG_FILES.text_encoder_2} projection_dim ${projection})`);
    } else if (projectionWeight.shape.join() !== [projection, te2.hidden_size].join())
      problems.push(`text_encoder_2/${r.info.weights.text_encoder_2}: text_projection.weight is [${projectionWeight.shape}], ${CONFIG_FILES.text_encoder_2} projection_dim ${projection} and hidden_size ${te2.hidden_size} imply [${projection},${te2.hidden_size}]`);
  }

  if (!unet || unet.addition_embed_type !== 'text_time') return problems;
  if (te1 && te2 && isPositiveInt(te1.hidden_size) && isPositiveInt(te2.hidden_size)) {
    const sum = te1.hidden_size + te2.hidden_size;
    if (unet.cross_attention_dim !== sum)
      problems.push(`${CONFIG_FILES.unet}: cross_attention_dim ${JSON.stringify(unet.cross_attention_dim ?? null)} ≠ text_encoder hidden_size ${te1.hidden_size} + text_encoder_2 hidden_size ${te2.hidden_size} = ${sum}`);
  }
  const timeDim = unet.addition_time_embed_dim;
  if (!isPositiveInt(timeDim)) {
    problems.push(`${CONFIG_FILES.unet}: addition_time_embed_dim ${JSON.stringify(timeDim ?? null)} must be a positive integer for addition_embed_type "text_time"`);
    return problems;
  }
  if (!isPositiveInt(projection)) return problems;
  const inputs = projection + TIME_IDS * timeDim;
  const formula = `text_encoder_2 projection_dim ${projection} + ${TIME_IDS} × addition_time_embed_dim ${timeDim} = ${inputs}`;
  if (unet.projection_class_embeddings_input_dim !== inputs)
    problems.push(`${CONFIG_FILES.unet}: projection_class_embeddings_input_dim ${JSON.stringify(unet.projection_class_embeddings_input_dim ?? null)} ≠ ${formula}`);
  const linear = weights.unet?.tensors.get('add_embedding.linear_1.weight');
  const unetFile = `unet/${r.info.weights.unet}`;
  if (weights.unet && !linear) problems.push(`${unetFile}: add_embedding.linear_1.weight is missing (the text_time embedding of an SDXL UNet)`);
  else if (linear && linear.shape[1] !== inputs)
    problems.push(`${unetFile}: add_embedding.linear_1.weight is [${linear.shape}], its input ${linear.shape[1]} ≠ ${formula}`);
  return problems;
}
