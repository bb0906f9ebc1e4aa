import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildWorkload, getWorkload } from '../workloads.ts';

// workload.json is what the PyTorch steps read: PEFT's LoraConfig takes module names, not our preset names.
test('workload.json names the LoRA target modules as PEFT takes them, and lists every adapted module', () => {
  const built = buildWorkload(getWorkload('tiny'));
  const spec = JSON.parse(readFileSync(join(built.inputsPath, '..', 'workload.json'), 'utf8'));
  assert.deepEqual(spec.lora.targets, ['to_q', 'to_k', 'to_v', 'to_out.0']);
  assert.ok(spec.lora.modules.length > 0 && spec.lora.modules.every((m: string) => spec.lora.targets.some((t: string) => m.endsWith(`.${t}`))));
});
