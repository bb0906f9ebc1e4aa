import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PRECISIONS, type Precision } from '@npo/contracts';
import { executionProviderFromEnv } from '@npo/graph';
import { assertPrecisionSupported } from '../model/precision.ts';
import { verifyReference } from '../verify/reference.ts';

/**
 * `npm run verify:reference -- <dir> [--precision fp32|fp16|bf16]`: one JSON line per compared quantity; exit 1 if
 * any is out of tolerance. `EXECUTION_PROVIDER=cuda` runs every session on the CUDA provider (scripts/gpu-check.sh);
 * `--precision` (or `PRECISION=`) builds the UNet's graphs in that mixed precision, checked with its looser
 * tolerances (packages/diffusion/src/verify/unet-tolerances.ts).
 */
const usage = 'usage: npm run verify:reference -- <fixture-dir> [--precision fp32|fp16|bf16]';
const args = process.argv.slice(2);
const flagAt = args.indexOf('--precision');
const precisionArg = flagAt >= 0 ? args.splice(flagAt, 2)[1] : process.env.PRECISION || 'fp32';
if (!(PRECISIONS as readonly string[]).includes(precisionArg ?? '')) {
  console.error(`--precision must be one of ${PRECISIONS.join(', ')} (got ${JSON.stringify(precisionArg ?? null)})\n${usage}`);
  process.exit(2);
}
const precision = precisionArg as Precision;
const dir = args[0];
if (!dir) {
  console.error(usage);
  process.exit(2);
}
if (!existsSync(dir) || !statSync(dir).isDirectory()) {
  console.error(`${dir}: no such folder`);
  process.exit(1);
}
const work = mkdtempSync(join(tmpdir(), 'npo-verify-'));
try {
  const executionProvider = executionProviderFromEnv();
  console.error(`verify:reference on ${executionProvider}, precision ${precision}`);
  let quantities;
  try {
    assertPrecisionSupported(precision, executionProvider);
    quantities = await verifyReference(resolve(dir), work, { executionProvider }, precision);
  } catch (e) {
    // A part was recognised (e.g. unet/config.json) but something it needs is missing or malformed: say which, no stack.
    const err = e as Error & { code?: string };
    console.error(`${dir}: cannot verify this folder: ${err.message}${err.code ? ` (${err.code})` : ''}`);
    process.exit(1);
  }
  for (const q of quantities) console.log(JSON.stringify(q));
  if (!quantities.length) {
    console.error(`${dir}: nothing to verify (expected unet/, lora/, sampling/, vae/, text_encoder/, text_encoder_2/ or tokenizer/ parts)`);
    process.exit(1);
  }
  const bad = quantities.filter((q) => !q.ok);
  console.error(`${quantities.length - bad.length}/${quantities.length} quantities within tolerance`);
  process.exitCode = bad.length ? 1 : 0;
} finally {
  rmSync(work, { recursive: true, force: true });
}
