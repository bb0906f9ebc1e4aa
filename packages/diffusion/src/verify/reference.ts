import type { Precision } from '@npo/contracts';
import type { SessionOptions } from '@npo/graph';
import type { Quantity } from './compare.ts';
import { verifyEncodersReference } from './encoders-reference.ts';
import { verifySdxlTextReference } from './sdxl-text-reference.ts';
import { verifyUNetReference } from './unet-reference.ts';

/**
 * Every reference part found in `dir`; encoders (vae/, text_encoder/, tokenizer/) register here too. Each verifier compiles every session it runs with `sessions` (the execution provider: `EXECUTION_PROVIDER`).
 * `precision` (fp16/bf16: mixed precision) applies to the UNet's graphs, the ones a training job runs in it; the encoders stay float32.
 */
export const VERIFIERS: ((dir: string, workDir: string, sessions: SessionOptions, precision: Precision) => Promise<Quantity[]>)[] = [verifyUNetReference, verifyEncodersReference, verifySdxlTextReference];

export async function verifyReference(dir: string, workDir: string, sessions: SessionOptions = {}, precision: Precision = 'fp32'): Promise<Quantity[]> {
  const out: Quantity[] = [];
  for (const v of VERIFIERS) out.push(...(await v(dir, workDir, sessions, precision)));
  return out;
}
