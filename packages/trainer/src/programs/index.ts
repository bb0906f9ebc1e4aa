import type { StepProgram } from '../program.ts';
import { preferenceProgram, type PreferenceProgramSpec } from './preference.ts';
import { pretrainProgram, type PretrainProgramSpec } from './pretrain.ts';

export type ProgramSpec = PreferenceProgramSpec | PretrainProgramSpec;

export function createProgram(spec: ProgramSpec): Promise<StepProgram> {
  return spec.kind === 'preference' ? preferenceProgram(spec) : pretrainProgram(spec);
}
