import { test } from 'node:test';
import { join } from 'node:path';
import { verifyUNetReference } from '../src/verify/unet-reference.ts';
import { assertReference, withWork } from './reference-check.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures/sdxl-tiny');

test('sdxl-tiny reference (text_time UNet): forward, DPO/NPO losses, gradients, AdamW and the NPO-guided DDIM with SDXL conditioning', () =>
  withWork('npo-ref-sdxl-', async (work) => {
    assertReference(await verifyUNetReference(FIXTURE, work), {
      names: ['unet.forward', 'dpo.model_pred', 'npo.ref_pred', 'dpo.loss', 'npo.loss', 'npo.inside', 'dpo.model_losses', 'sampling.npo.latents_4', 'sampling.basecfg.latents_4'],
      prefixes: ['dpo.grads', 'npo.grads', 'dpo.adamw_from_stored_grads', 'npo.adamw_from_own_grads', 'grads_mse_mean'],
    });
  }));
