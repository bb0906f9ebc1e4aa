import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Graph, readSafetensors, toFloat32, type HostTensor, type SessionOptions } from '@npo/graph';
import { ArtifactDir } from '../model/artifacts.ts';
import { parseClipTextConfig, type ClipTextConfig } from '../text/clip-config.ts';
import { clipTextForward, penultimateHiddenState } from '../text/clip-text-model.ts';
import { clipWeightsPath } from '../text/clip-text-encoder.ts';
import { concatPromptEmbeds } from '../text/sdxl-prompt-embeds.ts';
import { compareAbs, type Quantity } from './compare.ts';
import { ReferenceFolderError } from './reference-folder-error.ts';

const PARTS = ['text_encoder', 'text_encoder_2'] as const;

interface EncoderRun {
  config: ClipTextConfig;
  out: Record<string, HostTensor>;
}

/**
 * The SDXL text side of a reference folder laid out like fixtures/sdxl-tiny: `text_encoder{,_2}/forward.safetensors`
 * (input_ids → penultimate states, last_hidden_state, projected text_embeds) and
 * `text_encoder_2/sdxl_conditioning.safetensors` (the assembled prompt_embeds and pooled_prompt_embeds).
 */
export async function verifySdxlTextReference(dir: string, workDir: string, sessions: SessionOptions = {}): Promise<Quantity[]> {
  const artifacts = new ArtifactDir(workDir, sessions);
  const out: Quantity[] = [];
  const runs = new Map<string, EncoderRun>();
  const run = async (part: string, inputIds: HostTensor): Promise<EncoderRun> => {
    const key = `${part}:${inputIds.shape}:${toFloat32(inputIds).join()}`;
    if (runs.has(key)) return runs.get(key)!;
    const teDir = join(dir, part);
    if (!existsSync(join(teDir, 'config.json'))) throw new ReferenceFolderError(`${teDir} has no config.json`);
    const config = parseClipTextConfig(JSON.parse(readFileSync(join(teDir, 'config.json'), 'utf8')));
    const weights = artifacts.weights(clipWeightsPath(teDir), `${part}.safetensors`);
    const g = new Graph();
    const res = clipTextForward({ g, weights, adapters: [] }, config, g.input('input_ids', 'int64', inputIds.shape));
    g.output('last_hidden_state', res.lastHiddenState);
    g.output('penultimate', penultimateHiddenState(res));
    if (res.textEmbeds) g.output('text_embeds', res.textEmbeds);
    const r = { config, out: await (await artifacts.compile(g, `verify_sdxl_${part}_${runs.size}`)).session.run({ input_ids: inputIds }) };
    runs.set(key, r);
    return r;
  };

  for (const part of PARTS) {
    const ioPath = join(dir, part, 'forward.safetensors');
    if (!existsSync(ioPath)) continue;
    const io = readSafetensors(ioPath);
    if (!io.input_ids) throw new ReferenceFolderError(`${ioPath} lacks 'input_ids'`);
    const { config, out: r } = await run(part, io.input_ids);
    if (io.hidden_states_penultimate) out.push(compareAbs(`${part}.hidden_states_penultimate`, r.penultimate, io.hidden_states_penultimate, 1e-4));
    if (io.last_hidden_state) out.push(compareAbs(`${part}.last_hidden_state`, r.last_hidden_state, io.last_hidden_state, 1e-4));
    if (io.text_embeds) {
      if (config.projection_dim === null) throw new ReferenceFolderError(`${ioPath} holds text_embeds but ${part}/config.json is not a CLIPTextModelWithProjection`);
      out.push(compareAbs(`${part}.text_embeds`, r.text_embeds, io.text_embeds, 1e-4));
    }
  }

  const condPath = join(dir, 'text_encoder_2', 'sdxl_conditioning.safetensors');
  if (existsSync(condPath)) {
    const io = readSafetensors(condPath);
    for (const k of ['input_ids', 'prompt_embeds', 'pooled_prompt_embeds'])
      if (!io[k]) throw new ReferenceFolderError(`${condPath} lacks '${k}'`);
    const a = await run('text_encoder', io.input_ids);
    const b = await run('text_encoder_2', io.input_ids);
    const promptEmbeds = concatPromptEmbeds(toFloat32(a.out.penultimate), a.config.hidden_size, toFloat32(b.out.penultimate), b.config.hidden_size);
    out.push(compareAbs('sdxl.prompt_embeds', promptEmbeds, io.prompt_embeds, 1e-4));
    out.push(compareAbs('sdxl.pooled_prompt_embeds', b.out.text_embeds, io.pooled_prompt_embeds, 1e-4));
  }
  return out;
}
