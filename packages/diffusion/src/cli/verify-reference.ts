import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { executionProviderFromEnv } from '@npo/graph';
import { verifyReference } from '../verify/reference.ts';

/**
 * `npm run verify:reference -- <dir>`: one JSON line per compared quantity; exit 1 if any is out of tolerance.
 * `EXECUTION_PROVIDER=cuda` runs every session on the CUDA provider (scripts/gpu-check.sh).
 */
const dir = process.argv[2];
if (!dir) {
  console.error('usage: npm run verify:reference -- <fixture-dir>');
  process.exit(2);
}
if (!existsSync(dir) || !statSync(dir).isDirectory()) {
  console.error(`${dir}: no such folder`);
  process.exit(1);
}
const work = mkdtempSync(join(tmpdir(), 'npo-verify-'));
try {
  const executionProvider = executionProviderFromEnv();
  console.error(`verify:reference on ${executionProvider}`);
  let quantities;
  try {
    quantities = await verifyReference(resolve(dir), work, { executionProvider });
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
