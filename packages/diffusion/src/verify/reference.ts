import type { SessionOptions } from '@npo/graph';
import type { Quantity } from './compare.ts';
import { verifyEncodersReference } from './encoders-reference.ts';
import { verifySdxlTextReference } from './sdxl-text-reference.ts';
import { verifyUNetReference } from './unet-reference.ts';

/**
 * Every reference part found in `dir`; encoders (vae/, text_encoder/, tokenizer/) register here too. Each verifier compiles every session it runs with `sessions` (the execution provider: `EXECUTION_PROVIDER`).
 */
export const VERIFIERS: ((dir: string, workDir: string, sessions: SessionOptions) => Promise<Quantity[]>)[] = [verifyUNetReference, verifyEncodersReference, verifySdxlTextReference];

export async function verifyReference(dir: string, workDir: string, sessions: SessionOptions = {}): Promise<Quantity[]> {
  const out: Quantity[] = [];
  for (const v of VERIFIERS) out.push(...(await v(dir, workDir, sessions)));
  return out;
}
