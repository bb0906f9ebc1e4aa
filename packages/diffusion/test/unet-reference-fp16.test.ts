// Mixed precision (`precision` fp16) on CPU: the tiny-unet fixture's forward, DPO/NPO step (loss, gradients, one
// AdamW update) and guided sampling, built in fp16 and run with onnxruntime's inserted casts, against the float32
// reference with fp16's tolerances (verify/unet-tolerances.ts; measured errors in the README's correctness section).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrecisionUnsupportedError, type Precision } from '@npo/contracts';
import { readSafetensors } from '@npo/graph';
import { ArtifactDir } from '../src/model/artifacts.ts';
import { adapterFeeds } from '../src/lora/adapter.ts';
import { loadLora, moduleSpecs } from '../src/lora/adapter.ts';
import type { AttentionMemory } from '../src/model/context.ts';
import { assertPrecisionSupported } from '../src/model/precision.ts';
import { WeightSource } from '../src/model/weights.ts';
import { buildPreferenceStep } from '../src/objectives/preference-step.ts';
import { alphasCumprod, SD15_SCHEDULER } from '../src/schedule/noise-schedule.ts';
import { parseUNetConfig } from '../src/unet/config.ts';
import { compareScaled } from '../src/verify/compare.ts';
import { assertReference, withWork } from './reference-check.ts';
import { verifyUNetReference } from '../src/verify/unet-reference.ts';
import { UNET_TOLERANCES } from '../src/verify/unet-tolerances.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures/tiny-unet');

function stepGraph(precision: Precision, memory: { attention?: AttentionMemory; checkpointBlocks?: boolean; batch?: 'model'; weights?: WeightSource; pairs?: number; latentShape?: number[]; embedShape?: number[] } = {}) {
  const config = parseUNetConfig(JSON.parse(readFileSync(join(FIXTURE, 'unet/config.json'), 'utf8')));
  const weights = memory.weights ?? WeightSource.fromSafetensors(join(FIXTURE, 'unet/diffusion_pytorch_model.safetensors'));
  const init = loadLora(join(FIXTURE, 'lora/lora_init.safetensors'));
  return buildPreferenceStep({
    unet: { config, weights }, lora: { config: init.config, modules: moduleSpecs(init) }, pairs: memory.pairs ?? 1, latentShape: memory.latentShape ?? [config.in_channels, 8, 8], embedShape: memory.embedShape ?? [4, config.cross_attention_dim],
    method: 'npo', beta: 1000, alphasCumprod: alphasCumprod(SD15_SCHEDULER), prediction: 'epsilon', maxGradNorm: 1, adamw: {}, precision,
    attention: memory.attention, checkpointBlocks: memory.checkpointBlocks, batch: memory.batch, ...(memory.batch && { emitGradients: true, optimizer: false, objective: 'mse_mean' as const }),
  });
}

test('fp16 step graph: base Conv/Gemm/MatMul in float16; LoRA weights, AdamW state, norms, softmax and the loss in float32', () => {
  const { graph } = stepGraph('fp16');
  const heavy = graph.nodes.filter((n) => ['Conv', 'Gemm', 'MatMul'].includes(n.op));
  const half = heavy.filter((n) => n.inputs.every((v) => !v || v.dtype === 'float16'));
  const single = heavy.filter((n) => n.inputs.every((v) => !v || v.dtype === 'float32'));
  assert.equal(half.length + single.length, heavy.length, 'no node mixes float16 and float32 operands');
  // what stays float32 is the LoRA branch (x·Aᵀ, ·Bᵀ) and its gradients: every such node touches a lora value
  const loraNames = new Set(graph.inputs.filter((v) => v.name.includes('.lora_')).map((v) => v.name));
  assert.ok(half.length > single.length, `${half.length} float16 of ${heavy.length} matmul-class nodes`);
  for (const n of graph.nodes.filter((x) => ['LayerNormalization', 'Softmax', 'ReduceMean'].includes(x.op)))
    assert.equal(n.inputs[0]!.dtype, 'float32', `${n.op} '${n.name}' runs in float32`);
  for (const v of graph.inputs) assert.notEqual(v.dtype, 'float16', `input ${v.name} (feeds stay float32)`);
  for (const { name, value } of graph.outputs) assert.notEqual(value.dtype, 'float16', `output ${name}`);
  assert.ok(loraNames.size > 0 && graph.inputs.some((v) => v.name.startsWith('adam_m.') && v.dtype === 'float32'));
  // the fp32 graph is the one built before precision existed: not one 16-bit value in it
  const fp32 = stepGraph('fp32').graph;
  assert.ok(fp32.nodes.every((n) => [...n.inputs, ...n.outputs].every((v) => !v || v.dtype !== 'float16')));
});

test('tiny-unet reference in fp16 on CPU: forward, DPO/NPO losses, gradients, AdamW and sampling within fp16 tolerances', async () => {
  await withWork('npo-ref-fp16-', async (work) => {
    const qs = await verifyUNetReference(FIXTURE, work, {}, 'fp16');
    assertReference(qs, {
      names: ['unet.forward', 'dpo.loss', 'npo.loss', 'npo.inside', 'dpo.model_losses', 'npo.ref_losses', 'sampling.npo.latents_4', 'sampling.basecfg.latents_4'],
      prefixes: ['dpo.grads', 'npo.grads', 'dpo.adamw_from_own_grads', 'npo.adamw_from_own_grads', 'grads_mse_mean'],
    });
    // it did run in 16 bits: float32 would match the fixture within fp32's (100× tighter) prediction tolerance
    const forward = qs.find((q) => q.name === 'unet.forward')!;
    assert.ok(forward.max_abs_err > UNET_TOLERANCES.fp32.prediction, `forward error ${forward.max_abs_err}: not float16`);
  });
});

test('bf16 on the CPU provider is refused by name before compiling; fp16 and fp32 are accepted everywhere', () => {
  assert.throws(() => assertPrecisionSupported('bf16', 'cpu'), (e: unknown) =>
    e instanceof PrecisionUnsupportedError && e.code === 'precision_unsupported' && /precision 'bf16' cannot run on the cpu execution provider/.test(e.message));
  assert.throws(() => assertPrecisionSupported('bf16', undefined), PrecisionUnsupportedError);
  for (const [p, provider] of [['bf16', 'cuda'], ['fp16', 'cpu'], ['fp16', 'cuda'], ['fp32', 'cpu']] as const) assertPrecisionSupported(p, provider);
  // the bf16 graph itself builds (it is CUDA that runs it)
  const { graph } = stepGraph('bf16');
  assert.ok(graph.nodes.some((n) => n.op === 'Conv' && n.inputs[0]!.dtype === 'bfloat16'));
});

test('fp16 with every block and attention chunk checkpointed (the memory plans a large job gets) computes the same gradients', async () => {
  const work = mkdtempSync(join(tmpdir(), 'npo-fp16-ckpt-'));
  try {
    const batch = readSafetensors(join(FIXTURE, 'lora/batch.safetensors'));
    const feeds = {
      ...adapterFeeds(loadLora(join(FIXTURE, 'lora/lora_init.safetensors'))),
      model_input: batch.dpo_model_input, model_timesteps: batch.dpo_timesteps, model_embeds: batch.dpo_encoder_hidden_states, target: batch.dpo_target,
    };
    const artifacts = new ArtifactDir(work);
    const run = async (name: string, memory: Parameters<typeof stepGraph>[1]) => {
      const shapes = { pairs: batch.dpo_model_input.shape[0] / 2, latentShape: batch.dpo_model_input.shape.slice(1), embedShape: batch.dpo_encoder_hidden_states.shape.slice(1) };
      const { graph, paramNames } = stepGraph('fp16', { ...memory, ...shapes, batch: 'model', weights: artifacts.weights(join(FIXTURE, 'unet/diffusion_pytorch_model.safetensors'), 'unet.safetensors') });
      const { session } = await artifacts.compile(graph, name);
      const res = await session.run(feeds);
      await session.release();
      return { res, paramNames, regions: graph.checkpoints.length };
    };
    const plain = await run('plain', {});
    const ckpt = await run('checkpointed', { checkpointBlocks: true, attention: { chunkElements: 64, checkpointElements: 16 } });
    assert.ok(ckpt.regions > plain.regions, 'the checkpointed graph has regions');
    // recomputation is exact, but the chunked attention and the fan-in sums add in another order: float32 values a
    // last bit apart round to different float16 values, so the two fp16 runs differ by fp16's noise — both must be
    // within fp16's tolerance of the float32 fixture gradients
    const ref = readSafetensors(join(FIXTURE, 'lora/grads_mse_mean.safetensors'));
    const factor = UNET_TOLERANCES.fp16.gradsMseMean;
    for (const [label, r] of [['plain', plain], ['checkpointed', ckpt]] as const) {
      const qs = r.paramNames.map((n) => compareScaled(n, r.res[`grad.${n}`], ref[n], factor));
      const bad = qs.filter((q) => !q.ok);
      assert.deepEqual(bad, [], `${label}: out of tolerance:\n${bad.map((q) => JSON.stringify(q)).join('\n')}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
