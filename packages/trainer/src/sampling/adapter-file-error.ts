import { InputError } from '@npo/contracts';

/** An adapter file that sampling cannot use (not a LoRA safetensors file, or none of its modules in this UNet): a retry cannot help. */
export class AdapterFileError extends InputError {
  constructor(message: string, path: string) {
    super(message, { path }, 'invalid_adapter', 422);
  }
}
