// File names that more than one part reads or writes.

/** A checkpoint's LoRA weights in PEFT's layout (what diffusers' load_lora_weights reads); the trainer writes it, the worker uploads it, the API serves it. */
export const ADAPTER_FILE = 'adapter_model.safetensors';
