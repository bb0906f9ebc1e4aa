import { Graph, reshape } from '@npo/graph';
import type { Precision } from '@npo/contracts';
import type { LoraModuleSpec } from '../lora/adapter.ts';
import { computeDtype } from '../model/precision.ts';
import { loraInputs, type LoraValues } from '../model/context.ts';
import type { WeightSource } from '../model/weights.ts';
import { addedConditioningInputs } from '../unet/added-conditioning.ts';
import type { UNetConfig } from '../unet/config.ts';
import { unetForward } from '../unet/unet.ts';

/** An adapter slot of the guidance graph: its modules (path, in, out) and rank; its tensors are inputs. */
export interface AdapterSlot {
  name: string;
  rank: number;
  modules: LoraModuleSpec[];
}

export const slotTensorName = (slot: string, key: string) => `${slot}:${key}`;
export const slotScaleName = (slot: string) => `${slot}:scale`;

/**
 * The UNet on a [positive; negative] batch in one call, each adapter slot scaled per sample, so the
 * positive branch runs θpos and the negative branch θpos + δNPO with no second copy of the weights.
 */
export function buildGuidanceGraph(
  unet: { config: UNetConfig; weights: WeightSource }, batch: number, latentShape: number[], embedShape: number[], slots: AdapterSlot[], precision: Precision = 'fp32',
): Graph {
  const g = new Graph();
  const sample = g.input('sample', 'float32', [batch, ...latentShape]);
  const timesteps = g.input('timesteps', 'float32', [batch]);
  const embeds = g.input('embeds', 'float32', [batch, ...embedShape]);
  const adapters: LoraValues[] = slots.map((slot) => {
    const modules = loraInputs(g, slot.modules, slot.rank, (key) => slotTensorName(slot.name, key));
    const scale = reshape(g.input(slotScaleName(slot.name), 'float32', [batch]), [batch, 1, 1]);
    return { modules, scale };
  });
  const added = addedConditioningInputs(g, unet.config, batch, '');
  const out = unetForward({ g, weights: unet.weights, adapters, ...(precision !== 'fp32' && { compute: computeDtype(precision) }) }, unet.config, { sample, timesteps, encoderHiddenStates: embeds, added });
  g.output('model_output', out);
  return g;
}

