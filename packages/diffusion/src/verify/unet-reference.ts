import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adamw, Graph, hostTensor, readSafetensors, serialize, Session, toFloat32, type HostTensor, type SessionOptions } from '@npo/graph';
import { adapterFeeds, loadLora, moduleSpecs } from '../lora/adapter.ts';
import { ArtifactDir } from '../model/artifacts.ts';
import { buildPreferenceStep } from '../objectives/preference-step.ts';
import { adamStateName, STEP_INPUTS, updatedName } from '../objectives/step-graph-names.ts';
import { buildGuidanceGraph } from '../sampling/guidance-graph.ts';
import { GuidedSampler } from '../sampling/npo-sampler.ts';
import { alphasCumprod, parseSchedulerConfig, SD15_SCHEDULER } from '../schedule/noise-schedule.ts';
import { parseUNetConfig, pooledEmbedWidth, TIME_IDS, type UNetConfig } from '../unet/config.ts';
import { ReferenceFolderError } from './reference-folder-error.ts';
import { compareAbs, compareMasked, compareScaled, type Quantity } from './compare.ts';
import { UNET_TOLERANCES } from './unet-tolerances.ts';
import type { Precision } from '@npo/contracts';

const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

/**
 * Runs this implementation on a reference folder laid out like fixtures/tiny-unet (unet/, lora/, sampling/;
 * absent parts are skipped) and compares every stored quantity with the tolerances of the fixtures README.
 * `precision` fp16/bf16 builds every UNet graph in mixed precision and compares with that precision's looser
 * tolerances (unet-tolerances.ts); the stored AdamW check from the reference's gradients involves no UNet and keeps fp32's.
 */
export async function verifyUNetReference(dir: string, workDir: string, sessions: SessionOptions = {}, precision: Precision = 'fp32'): Promise<Quantity[]> {
  const out: Quantity[] = [];
  const tol = UNET_TOLERANCES[precision];
  const unetDir = join(dir, 'unet');
  if (!existsSync(join(unetDir, 'config.json'))) return out;
  const config = parseUNetConfig(readJson(join(unetDir, 'config.json')));
  const artifacts = new ArtifactDir(workDir, sessions);
  const weights = artifacts.weights(join(unetDir, 'diffusion_pytorch_model.safetensors'), 'unet.safetensors');
  const unet = { config, weights };

  if (existsSync(join(unetDir, 'forward.safetensors'))) {
    const io = readSafetensors(join(unetDir, 'forward.safetensors'));
    const [b, ...latent] = io.sample.shape;
    const g = buildGuidanceGraph(unet, b, latent, io.encoder_hidden_states.shape.slice(1), [], precision);
    const { session } = await artifacts.compile(g, 'forward');
    const t = hostTensor('float32', [b], toFloat32(io.timesteps));
    const res = await session.run({ sample: io.sample, timesteps: t, embeds: io.encoder_hidden_states, ...addedFeeds(config, io, '', '', 'unet/forward.safetensors') });
    out.push(compareAbs('unet.forward', res.model_output, io.out, tol.prediction));
  }

  const loraDir = join(dir, 'lora');
  if (existsSync(join(loraDir, 'lora_init.safetensors')) && existsSync(join(loraDir, 'batch.safetensors'))) {
    const init = loadLora(join(loraDir, 'lora_init.safetensors'));
    const batch = readSafetensors(join(loraDir, 'batch.safetensors'));
    const acp = (batch.alphas_cumprod?.data as Float32Array) ?? alphasCumprod(SD15_SCHEDULER);
    for (const direction of ['dpo', 'npo'] as const) {
      const resultPath = join(loraDir, direction, 'result.json');
      if (!existsSync(resultPath)) continue;
      const result = readJson(resultPath);
      const opt = { beta1: result.adamw.betas[0], beta2: result.adamw.betas[1], eps: result.adamw.eps, weightDecay: result.adamw.weight_decay };
      const input = batch[`${direction}_model_input`];
      const pairs = input.shape[0] / 2;
      const { graph, paramNames } = buildPreferenceStep({
        unet,
        lora: { config: init.config, modules: moduleSpecs(init) },
        pairs,
        latentShape: input.shape.slice(1),
        embedShape: batch[`${direction}_encoder_hidden_states`].shape.slice(1),
        method: direction,
        beta: result.beta,
        alphasCumprod: acp,
        prediction: 'epsilon',
        maxGradNorm: null,
        adamw: opt,
        batch: 'model',
        emitGradients: true,
        debugOutputs: true,
        precision,
      });
      const { session } = await artifacts.compile(graph, `step_${direction}`);
      const params = adapterFeeds(init);
      const zeros = Object.fromEntries(paramNames.flatMap((n) => [
        [adamStateName(n, 'm'), hostTensor('float32', params[n].shape)],
        [adamStateName(n, 'v'), hostTensor('float32', params[n].shape)],
      ]));
      const res = await session.run({
        ...params,
        ...zeros,
        model_input: input,
        model_timesteps: batch[`${direction}_timesteps`],
        model_embeds: batch[`${direction}_encoder_hidden_states`],
        target: batch[`${direction}_target`],
        ...addedFeeds(config, batch, `${direction}_`, 'model_', 'lora/batch.safetensors'),
        [STEP_INPUTS.step]: hostTensor('float32', [], [1]),
        [STEP_INPUTS.lr]: hostTensor('float32', [], [result.adamw.lr]),
      });
      const d = direction;
      if (batch[`${d}_model_pred`]) out.push(compareAbs(`${d}.model_pred`, res.model_pred, batch[`${d}_model_pred`], tol.prediction));
      if (batch[`${d}_ref_pred`]) out.push(compareAbs(`${d}.ref_pred`, res.ref_pred, batch[`${d}_ref_pred`], tol.prediction));
      out.push(compareAbs(`${d}.model_losses`, res.model_losses, result.model_losses, tol.losses));
      out.push(compareAbs(`${d}.ref_losses`, res.ref_losses, result.ref_losses, tol.losses));
      out.push(compareAbs(`${d}.inside`, res.inside, result.inside, tol.inside));
      out.push(compareAbs(`${d}.loss`, res.loss, result.loss, tol.loss));
      out.push(compareAbs(`${d}.implicit_acc`, res.implicit_acc, result.implicit_acc, 1e-6));
      const gradsPath = join(loraDir, d, 'grads.safetensors');
      const refGrads = existsSync(gradsPath) ? readSafetensors(gradsPath) : null;
      if (refGrads) out.push(...worstOf(`${d}.grads`, paramNames.map((n) => compareScaled(n, res[`grad.${n}`], refGrads[n], tol.grads))));
      const afterPath = join(loraDir, d, 'lora_after_adamw.safetensors');
      if (existsSync(afterPath) && refGrads) {
        const after = readSafetensors(afterPath);
        out.push(...worstOf(`${d}.adamw_from_own_grads`, paramNames.map((n) => compareMasked(n, res[updatedName(n)], after[n], refGrads[n], tol.adamwMaskThreshold, tol.adamwFromOwnGrads))));
        out.push(...worstOf(`${d}.adamw_from_stored_grads`, await adamwFromStored(paramNames, params, refGrads, after, opt, result.adamw.lr, sessions)));
      }
    }
    const msePath = join(loraDir, 'grads_mse_mean.safetensors');
    if (existsSync(msePath)) out.push(...(await mseMeanGradients(unet, artifacts, init, batch, acp, readSafetensors(msePath), precision)));
  }

  const samplingDir = join(dir, 'sampling');
  if (existsSync(join(samplingDir, 'sampling.json')) && existsSync(join(samplingDir, 'npo_cfg_ddim.safetensors'))) {
    const meta = readJson(join(samplingDir, 'sampling.json'));
    const ref = readSafetensors(join(samplingDir, 'npo_cfg_ddim.safetensors'));
    const scheduler = parseSchedulerConfig(meta.scheduler_config);
    const npo = loadLora(join(dir, meta.lora_weights));
    const [b, ...embedShape] = ref.cond_embeds.shape;
    const latentShape = ref['npo/latents_0'].shape.slice(1);
    const slot = { name: 'npo', rank: npo.config.rank, modules: moduleSpecs(npo) };
    const { session } = await artifacts.compile(buildGuidanceGraph(unet, 2 * b, latentShape, embedShape, [slot], precision), 'guidance');
    const sdxl = config.addition ? { pooled: pooledEmbedWidth(config.addition), timeIds: new Float32Array(TIME_IDS) } : null;
    if (sdxl) for (const k of ['cond_text_embeds', 'uncond_text_embeds', 'time_ids']) requireTensor(ref, k, 'sampling/npo_cfg_ddim.safetensors');
    const sampler = new GuidedSampler(session, scheduler, b, latentShape, embedShape, [slot], sdxl);
    for (const arm of ['npo', 'basecfg']) {
      if (!ref[`${arm}/latents_0`]) continue;
      const { trace } = await sampler.sample(
        {
          latents: ref[`${arm}/latents_0`].data as Float32Array,
          cond: ref.cond_embeds.data as Float32Array,
          uncond: ref.uncond_embeds.data as Float32Array,
          ...(sdxl && {
            condPooled: toFloat32(ref.cond_text_embeds),
            uncondPooled: toFloat32(ref.uncond_text_embeds),
            timeIds: toFloat32(ref.time_ids),
          }),
          guidance: meta.guidance_scale,
          steps: meta.num_inference_steps,
          trace: true,
        },
        arm === 'npo' ? { npo: { adapter: npo, positiveScale: 0, negativeScale: meta.lora_scale ?? 1 } } : {},
      );
      trace.forEach((s, i) => {
        out.push(compareAbs(`sampling.${arm}.step${i}.eps_cond`, s.epsCond, ref[`${arm}/step${i}_eps_cond`], tol.prediction));
        out.push(compareAbs(`sampling.${arm}.step${i}.eps_uncond`, s.epsUncond, ref[`${arm}/step${i}_eps_uncond`], tol.prediction));
        out.push(compareAbs(`sampling.${arm}.step${i}.pred_original_sample`, s.predOriginal, ref[`${arm}/step${i}_pred_original_sample`], tol.sampling));
        out.push(compareAbs(`sampling.${arm}.latents_${i + 1}`, s.latents, ref[`${arm}/latents_${i + 1}`], tol.sampling));
      });
    }
  }
  return out;
}

function requireTensor(file: Record<string, HostTensor>, key: string, where: string): HostTensor {
  if (!file[key]) throw new ReferenceFolderError(`${where} lacks '${key}', which a UNet with addition_embed_type "text_time" needs`);
  return file[key];
}

/** A text_time UNet's `text_embeds` and `time_ids` (stored as `${stored}text_embeds`…) fed as `${input}text_embeds`…. */
function addedFeeds(config: UNetConfig, file: Record<string, HostTensor>, stored: string, input: string, where: string): Record<string, HostTensor> {
  if (!config.addition) return {};
  const timeIds = requireTensor(file, `${stored}time_ids`, where);
  return {
    [`${input}text_embeds`]: requireTensor(file, `${stored}text_embeds`, where),
    [`${input}time_ids`]: hostTensor('float32', timeIds.shape, toFloat32(timeIds)),
  };
}

function worstOf(name: string, qs: Quantity[]): Quantity[] {
  const bad = qs.filter((q) => !q.ok).map((q) => ({ ...q, name: `${name}.${q.name}` }));
  const worst = qs.reduce((a, b) => (b.max_abs_err > a.max_abs_err ? b : a));
  return [...bad, { ...worst, name: `${name} (worst of ${qs.length} tensors: ${worst.name})` }];
}

async function adamwFromStored(
  names: string[], params: Record<string, HostTensor>, grads: Record<string, HostTensor>, after: Record<string, HostTensor>,
  opt: { beta1: number; beta2: number; eps: number; weightDecay: number }, lr: number, sessions: SessionOptions,
): Promise<Quantity[]> {
  const g = new Graph();
  const p = names.map((n) => g.input(`p:${n}`, 'float32', params[n].shape));
  const gr = names.map((n) => g.input(`g:${n}`, 'float32', params[n].shape));
  const zeros = names.map(() => g.scalar(0));
  const step = g.input(STEP_INPUTS.step, 'float32', []);
  const lrV = g.input(STEP_INPUTS.lr, 'float32', []);
  const upd = adamw(p, gr, zeros, zeros, step, lrV, opt);
  upd.params.forEach((v, i) => g.output(`out:${names[i]}`, v));
  const s = await Session.create(serialize(g), sessions);
  const feeds: Record<string, HostTensor> = { [STEP_INPUTS.step]: hostTensor('float32', [], [1]), [STEP_INPUTS.lr]: hostTensor('float32', [], [lr]) };
  names.forEach((n) => {
    feeds[`p:${n}`] = params[n];
    feeds[`g:${n}`] = grads[n];
  });
  const res = await s.run(feeds);
  await s.release();
  return names.map((n) => compareAbs(n, res[`out:${n}`], after[n], 2e-7));
}

async function mseMeanGradients(
  unet: Parameters<typeof buildGuidanceGraph>[0], artifacts: ArtifactDir, init: ReturnType<typeof loadLora>,
  batch: Record<string, HostTensor>, acp: Float32Array, ref: Record<string, HostTensor>, precision: Precision,
): Promise<Quantity[]> {
  const { graph, paramNames } = buildPreferenceStep({
    unet, lora: { config: init.config, modules: moduleSpecs(init) }, pairs: batch.dpo_model_input.shape[0] / 2,
    latentShape: batch.dpo_model_input.shape.slice(1), embedShape: batch.dpo_encoder_hidden_states.shape.slice(1), method: 'dpo', beta: 1,
    alphasCumprod: acp, prediction: 'epsilon', maxGradNorm: null, adamw: {}, batch: 'model', optimizer: false, objective: 'mse_mean', emitGradients: true, precision,
  });
  const { session } = await artifacts.compile(graph, 'grads_mse_mean');
  const res = await session.run({
    ...adapterFeeds(init),
    model_input: batch.dpo_model_input,
    model_timesteps: batch.dpo_timesteps,
    model_embeds: batch.dpo_encoder_hidden_states,
    target: batch.dpo_target,
    ...addedFeeds(unet.config, batch, 'dpo_', 'model_', 'lora/batch.safetensors'),
  });
  return worstOf('grads_mse_mean', paramNames.map((n) => compareScaled(n, res[`grad.${n}`], ref[n], UNET_TOLERANCES[precision].gradsMseMean)));
}
