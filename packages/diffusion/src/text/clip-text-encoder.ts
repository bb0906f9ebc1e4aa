import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Graph, hostTensor, type ExecutionProvider, type Session } from '@npo/graph';
import { ArtifactDir } from '../model/artifacts.ts';
import { WeightError } from '../model/weights.ts';
import { parseClipTextConfig, type ClipTextConfig } from './clip-config.ts';
import { clipTextForward, stackHiddenStates } from './clip-text-model.ts';

/** The weight files transformers writes, in order of preference. */
const WEIGHT_FILES = ['model.safetensors', 'model.fp16.safetensors'];

export function clipWeightsPath(textEncoderDir: string): string {
  const found = WEIGHT_FILES.map((f) => join(textEncoderDir, f)).find(existsSync);
  if (!found) throw new WeightError(`${textEncoderDir} has none of ${WEIGHT_FILES.join(', ')}: convert .bin checkpoints to safetensors first`);
  return found;
}
