import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestContext, type TestContext } from '../src/testing.ts';
import { registerBuiltinModels } from '../src/setup.ts';

// Built-in models are uploaded at start-up and re-uploaded when their content changes, even at the same size
// (a retrained UNet replaces a file of identical length); the row's files_sha256 follows the content.
let ctx: TestContext;
let modelsDir: string;
before(async () => {
  ctx = await createTestContext('builtin', { S3_BUCKET: 'npo-forge-test-builtin' });
  modelsDir = join(ctx.config.dataDir, 'models');
  ctx.config.builtinModelsDir = modelsDir;
  mkdirSync(join(modelsDir, 'tiny-sd', 'unet'), { recursive: true });
  writeFileSync(join(modelsDir, 'tiny-sd', 'unet', 'config.json'), JSON.stringify({ sample_size: 16, in_channels: 3, out_channels: 3 }));
});
after(async () => {
  await ctx.storage.deletePrefix('models/builtin/tiny-sd');
  await ctx.close();
});

const weights = () => join(modelsDir, 'tiny-sd', 'unet', 'diffusion_pytorch_model.safetensors');

test('same-size content change: re-uploaded, new files_sha256; unchanged: same files_sha256', async () => {
  writeFileSync(weights(), Buffer.alloc(64, 1));
  assert.deepEqual(await registerBuiltinModels(ctx.config, ctx.db, ctx.storage), ['tiny-sd']);
  const first = await ctx.db.model.findUniqueOrThrow({ where: { id: 'tiny-sd' } });
  assert.equal(first.status, 'ready');
  assert.deepEqual({ ...(first.info as object), files_sha256: undefined }, {
    // the model-folder reader's answer, as the worker stores it for a validated model
    kind: 'sd15', pixelSpace: true, sampleSize: 16, hasVae: false, vaeScaleFactor: null, inChannels: 3, outChannels: 3,
    weights: { unet: 'diffusion_pytorch_model.safetensors' }, files_sha256: undefined,
  });
  const key = 'models/builtin/tiny-sd/unet/diffusion_pytorch_model.safetensors';
  assert.deepEqual(await ctx.storage.getBuffer(key), Buffer.alloc(64, 1));

  await registerBuiltinModels(ctx.config, ctx.db, ctx.storage);
  const again = await ctx.db.model.findUniqueOrThrow({ where: { id: 'tiny-sd' } });
  assert.equal((again.info as { files_sha256: string }).files_sha256, (first.info as { files_sha256: string }).files_sha256);

  writeFileSync(weights(), Buffer.alloc(64, 2));
  await registerBuiltinModels(ctx.config, ctx.db, ctx.storage);
  assert.deepEqual(await ctx.storage.getBuffer(key), Buffer.alloc(64, 2));
  const changed = await ctx.db.model.findUniqueOrThrow({ where: { id: 'tiny-sd' } });
  assert.match((changed.info as { files_sha256: string }).files_sha256, /^[0-9a-f]{64}$/);
  assert.notEqual((changed.info as { files_sha256: string }).files_sha256, (first.info as { files_sha256: string }).files_sha256);
});
