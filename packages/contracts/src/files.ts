// File names that more than one part reads or writes.

/**
 * A checkpoint's adapter, per download format: PEFT's layout (what diffusers' load_lora_weights reads) and kohya/A1111
 * naming (`lora_unet_…` with `.alpha` tensors). The trainer writes both, the worker uploads them, the API serves them.
 */
export const ADAPTER_FILES = { peft: 'adapter_model.safetensors', kohya: 'adapter_kohya.safetensors' } as const;
export type AdapterFormat = keyof typeof ADAPTER_FILES;
export const ADAPTER_FILE = ADAPTER_FILES.peft;
