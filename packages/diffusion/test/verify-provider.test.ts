// verify:reference runs every session on the provider it is given (EXECUTION_PROVIDER in the CLI): asked for
// cuda on this GPU-less machine, each verifier fails with the provider error instead of verifying on CPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tryLoadLibrary } from '@npo/graph';
import { verifyEncodersReference } from '../src/verify/encoders-reference.ts';
import { verifyUNetReference } from '../src/verify/unet-reference.ts';

const FIX = join(import.meta.dirname, 'fixtures');

test('verify:reference on cuda: UNet and encoder verifiers fail with the provider error, not silently on CPU', { skip: tryLoadLibrary('libcuda.so.1').loaded && 'this machine has an NVIDIA driver' }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'npo-verify-provider-'));
  try {
    for (const [name, run] of [
      ['unet', () => verifyUNetReference(join(FIX, 'tiny-unet'), join(work, 'u'), { executionProvider: 'cuda' })],
      ['encoders', () => verifyEncodersReference(join(FIX, 'encoders/public'), join(work, 'e'), { executionProvider: 'cuda' })],
    ] as const)
      await assert.rejects(run, (e: Error & { code?: string }) => (assert.equal(e.code, 'execution_provider_unavailable', `${name}: ${e.message}`), true));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
