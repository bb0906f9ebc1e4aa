import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostTensor, readSafetensors, SafetensorsError, toFloat16, writeSafetensors } from '@npo/graph';
import { ArtifactDir, buildGuidanceGraph, parseUNetConfig } from '../src/index.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures/tiny-unet/unet');

async function forward(weightsPath: string, work: string) {
  const artifacts = new ArtifactDir(work);
  const config = parseUNetConfig(JSON.parse(readFileSync(join(FIXTURE, 'config.json'), 'utf8')));
  const io = readSafetensors(join(FIXTURE, 'forward.safetensors'));
  const g = buildGuidanceGraph({ config, weights: artifacts.weights(weightsPath, 'unet.safetensors') }, 2, [4, 8, 8], [7, 32], []);
  const { session } = await artifacts.compile(g, 'fwd');
  const t = hostTensor('float32', [2], Float32Array.from(io.timesteps.data as BigInt64Array, Number));
  const res = await session.run({ sample: io.sample, timesteps: t, embeds: io.encoder_hidden_states });
  return { out: res.model_output.data as Float32Array, ref: io.out.data as Float32Array };
}

test('fp16 UNet weights load through external data (cast in-graph) and match the fp32 reference closely', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'npo-fp16-'));
  try {
    const fp32 = readSafetensors(join(FIXTURE, 'diffusion_pytorch_model.safetensors'));
    const half = Object.fromEntries(Object.entries(fp32).map(([k, v]) => [k, toFloat16(v)]));
    writeSafetensors(join(dir, 'unet-fp16.safetensors'), half);
    const { out, ref } = await forward(join(dir, 'unet-fp16.safetensors'), join(dir, 'work'));
    let maxErr = 0;
    for (let i = 0; i < out.length; i++) maxErr = Math.max(maxErr, Math.abs(out[i] - ref[i]));
    assert.ok(maxErr < 5e-3, `fp16 weights: max abs error ${maxErr}`);
    assert.ok(maxErr > 0, 'the weights really were rounded to fp16');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a truncated or corrupted weights file fails with a clear SafetensorsError, not a crash', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'npo-corrupt-'));
  try {
    const truncated = join(dir, 'truncated.safetensors');
    copyFileSync(join(FIXTURE, 'diffusion_pytorch_model.safetensors'), truncated);
    truncateSync(truncated, statSync(truncated).size - 1000);
    await assert.rejects(forward(truncated, join(dir, 'w1')), (e: Error) => e instanceof SafetensorsError && /past the end of the file.*truncated/.test(e.message));
    const garbage = join(dir, 'garbage.safetensors');
    writeFileSync(garbage, Buffer.from('this is not a safetensors file at all'));
    await assert.rejects(forward(garbage, join(dir, 'w2')), (e: Error) => e instanceof SafetensorsError && /header length/.test(e.message));
    const badJson = join(dir, 'badjson.safetensors');
    const header = Buffer.from('{"a": nope}');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    mkdirSync(dir, { recursive: true });
    writeFileSync(badJson, Buffer.concat([len, header]));
    await assert.rejects(forward(badJson, join(dir, 'w3')), /header is not valid JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
