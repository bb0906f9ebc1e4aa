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

test('an SDXL workload feeds pooled embeddings and each image\'s time ids (the pipeline\'s default micro-conditioning)', () => {
  const built = buildWorkload(getWorkload('sdxl-tiny'));
  assert.deepEqual(built.batch.text_embeds.shape, [2, 32]);
  for (const side of ['chosen_time_ids', 'rejected_time_ids']) {
    assert.deepEqual(built.batch[side].shape, [2, 6]);
    assert.deepEqual([...(built.batch[side].data as Float32Array)], [64, 64, 0, 0, 64, 64, 64, 64, 0, 0, 64, 64]);
  }
  assert.equal(buildWorkload(getWorkload('tiny')).batch.text_embeds, undefined, 'nothing added for an SD1.x UNet');
});
