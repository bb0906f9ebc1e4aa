import type { ClipTextConfig } from './clip-config.ts';

/** Every parameter of transformers' CLIPTextModel (or …WithProjection) with this config: name → shape, in module order. */
export function clipTextParameterShapes(cfg: ClipTextConfig): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const D = cfg.hidden_size;
  const linear = (path: string, outF: number, inF: number, bias = true) => {
    out.set(`${path}.weight`, [outF, inF]);
    if (bias) out.set(`${path}.bias`, [outF]);
  };
  const norm = (path: string) => {
    out.set(`${path}.weight`, [D]);
    out.set(`${path}.bias`, [D]);
  };
  out.set('text_model.embeddings.token_embedding.weight', [cfg.vocab_size, D]);
  out.set('text_model.embeddings.position_embedding.weight', [cfg.max_position_embeddings, D]);
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const l = `text_model.encoder.layers.${i}`;
    for (const p of ['k_proj', 'v_proj', 'q_proj', 'out_proj']) linear(`${l}.self_attn.${p}`, D, D);
    norm(`${l}.layer_norm1`);
    linear(`${l}.mlp.fc1`, cfg.intermediate_size, D);
    linear(`${l}.mlp.fc2`, D, cfg.intermediate_size);
    norm(`${l}.layer_norm2`);
  }
  norm('text_model.final_layer_norm');
  if (cfg.projection_dim !== null) linear('text_projection', cfg.projection_dim, D, false);
  return out;
}
