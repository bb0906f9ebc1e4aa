import { ADAPTER_FILES } from '@npo/contracts';
import { hostTensor, writeSafetensors, type HostTensor } from '@npo/graph';
import { LoraError, type AdapterMetadata, type LoraAdapter } from './adapter.ts';

// kohya-ss / AUTOMATIC1111 naming. kohya trains SD1.x/2.x LoRAs on a UNet with diffusers' module tree, so a
// module's name is its diffusers path with every '.' turned into '_' under a `lora_unet_` prefix; A is
// `.lora_down.weight`, B is `.lora_up.weight`, and `.alpha` is a scalar (scale = alpha / rank, as in PEFT).
// diffusers reads these files back through its non-diffusers LoRA conversion (lora_conversion_utils.py).

export const KOHYA_FILE = ADAPTER_FILES.kohya;

/** `down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q` → `lora_unet_down_blocks_1_…_attn1_to_q`. */
export const kohyaModuleName = (path: string) => `lora_unet_${path.replaceAll('.', '_')}`;

/** Every module's down (A), up (B) and alpha under its kohya name. */
export function kohyaTensors(adapter: LoraAdapter): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  const owner = new Map<string, string>();
  for (const [path, { A, B }] of adapter.modules) {
    const name = kohyaModuleName(path);
    // '.' and '_' both become '_': two paths differing only there would overwrite each other
    const clash = owner.get(name);
    if (clash) throw new LoraError(`modules '${clash}' and '${path}' have the same kohya name ${name}`);
    owner.set(name, path);
    out[`${name}.lora_down.weight`] = A;
    out[`${name}.lora_up.weight`] = B;
    out[`${name}.alpha`] = hostTensor('float32', [], [adapter.config.alpha]);
  }
  return out;
}

/** Writes the adapter in kohya naming with the `ss_network_*` metadata kohya's tools and A1111 show. */
export function saveKohyaLora(path: string, adapter: LoraAdapter, meta: AdapterMetadata): void {
  writeSafetensors(path, kohyaTensors(adapter), {
    format: 'pt',
    ss_network_module: 'networks.lora',
    ss_network_dim: String(adapter.config.rank),
    ss_network_alpha: String(adapter.config.alpha),
    method: meta.method,
    base_model_sha256: meta.baseModelSha256 ?? '',
    step: String(meta.step ?? 0),
    ...meta.extra,
  });
}
