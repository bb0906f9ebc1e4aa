import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { verifyReference } from '../verify/reference.ts';

/** `npm run verify:reference -- <dir>`: one JSON line per compared quantity; exit 1 if any is out of tolerance. */
const dir = process.argv[2];
if (!dir) {
  console.error('usage: npm run verify:reference -- <fixture-dir>');
  process.exit(2);
}
const work = mkdtempSync(join(tmpdir(), 'npo-verify-'));
try {
  const quantities = await verifyReference(resolve(dir), work);
  for (const q of quantities) console.log(JSON.stringify(q));
  if (!quantities.length) {
    console.error(`${dir}: nothing to verify (expected unet/, lora/, sampling/, vae/, text_encoder/ or tokenizer/ parts)`);
    process.exit(1);
  }
  const bad = quantities.filter((q) => !q.ok);
  console.error(`${quantities.length - bad.length}/${quantities.length} quantities within tolerance`);
  process.exitCode = bad.length ? 1 : 0;
} finally {
  rmSync(work, { recursive: true, force: true });
}
