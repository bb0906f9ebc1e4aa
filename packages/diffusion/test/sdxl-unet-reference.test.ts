import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyUNetReference } from '../src/verify/unet-reference.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures/sdxl-tiny');

test('sdxl-tiny reference (text_time UNet): forward, DPO/NPO losses, gradients, AdamW and the NPO-guided DDIM with SDXL conditioning', async () => {
  const work = mkdtempSync(join(tmpdir(), 'npo-ref-sdxl-'));
  try {
    const qs = await verifyUNetReference(FIXTURE, work);
    const names = qs.map((q) => q.name);
    for (const expected of ['unet.forward', 'dpo.model_pred', 'npo.ref_pred', 'dpo.loss', 'npo.loss', 'npo.inside', 'dpo.model_losses', 'sampling.npo.latents_4', 'sampling.basecfg.latents_4'])
      assert.ok(names.includes(expected), `missing quantity ${expected}`);
    for (const prefix of ['dpo.grads', 'npo.grads', 'dpo.adamw_from_stored_grads', 'npo.adamw_from_own_grads', 'grads_mse_mean'])
      assert.ok(names.some((n) => n.startsWith(prefix)), `missing quantity ${prefix}`);
    const bad = qs.filter((q) => !q.ok);
    assert.deepEqual(bad, [], `out of tolerance:\n${bad.map((q) => JSON.stringify(q)).join('\n')}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
