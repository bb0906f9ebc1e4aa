import type { Quantity } from './compare.ts';
import { verifyEncodersReference } from './encoders-reference.ts';
import { verifySdxlTextReference } from './sdxl-text-reference.ts';
import { verifyUNetReference } from './unet-reference.ts';

/** Every reference part found in `dir`; encoders (vae/, text_encoder/, tokenizer/) register here too. */
export const VERIFIERS: ((dir: string, workDir: string) => Promise<Quantity[]>)[] = [verifyUNetReference, verifyEncodersReference, verifySdxlTextReference];

export async function verifyReference(dir: string, workDir: string): Promise<Quantity[]> {
  const out: Quantity[] = [];
  for (const v of VERIFIERS) out.push(...(await v(dir, workDir)));
  return out;
}
