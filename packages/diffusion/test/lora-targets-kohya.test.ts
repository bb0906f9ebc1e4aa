import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile, type HostTensor } from '@npo/graph';
import { LORA_TARGET_PRESET_NAMES, type LoraTargets } from '@npo/contracts';
import {
  adapterFeeds, findTargetModules, initLora, kohyaTensors, LoraError, loadLora, parseUNetConfig, saveKohyaLora, saveLora, unetParameterShapes,
  WeightSource,
} from '../src/index.ts';

const TINY = join(import.meta.dirname, 'fixtures/tiny-unet/unet/diffusion_pytorch_model.safetensors');
const config = (name: string) => JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/configs', name), 'utf8'));

/** Names and shapes of a full-size UNet's parameters (no bytes): enough to choose modules and size an adapter. */
function shapesOnly(file: string): WeightSource {
  const placeholder: Record<string, HostTensor> = {};
  for (const [n, s] of unetParameterShapes(parseUNetConfig(config(file)))) placeholder[n] = { dtype: 'float32', shape: s, data: new Float32Array(0) };
  return WeightSource.fromTensors(placeholder, 'input');
}

const MODELS: [string, () => WeightSource][] = [
  ['tiny-unet', () => WeightSource.fromSafetensors(TINY)],
  ['sd15', () => shapesOnly('sd15-unet.json')],
  ['sd21', () => shapesOnly('sd21-unet.json')],
];

const linearsOf = (w: WeightSource) => w.names().filter((n) => n.endsWith('.weight') && w.shape(n).length === 2).map((n) => n.slice(0, -7)).sort();
const lastName = (path: string) => /(to_q|to_k|to_v|to_out\.0|ff\.net\.0\.proj|ff\.net\.2|proj_in|proj_out|time_emb_proj|linear_1|linear_2)$/.exec(path)?.[1];

test('presets select the attention projections, then the feed-forward too, then every Linear; explicit names match as PEFT does', () => {
  for (const [name, weights] of MODELS) {
    const w = weights();
    const all = linearsOf(w);
    const attn = findTargetModules(w, 'attn');
    const attnFf = findTargetModules(w, 'attn+ff');
    assert.deepEqual(attn, all.filter((p) => /\.(to_q|to_k|to_v|to_out\.0)$/.test(p)), name);
    assert.deepEqual(attnFf, all.filter((p) => /\.(to_q|to_k|to_v|to_out\.0|ff\.net\.0\.proj|ff\.net\.2)$/.test(p)), name);
    assert.deepEqual(findTargetModules(w, 'all-linear'), all, name);
    assert.ok(attn.length < attnFf.length && attnFf.length < all.length, `${name}: ${attn.length} < ${attnFf.length} < ${all.length}`);
    assert.ok(all.every((p) => lastName(p)), `${name}: every Linear has a known last name`);
    assert.deepEqual(findTargetModules(w, ['attn2.to_k', 'time_emb_proj']), all.filter((p) => p.endsWith('.attn2.to_k') || p.endsWith('.time_emb_proj')), name);
  }
  // SD1.5's proj_in is a 1×1 convolution, SD2.1's a Linear: the same name is valid for one and not the other
  assert.ok(findTargetModules(shapesOnly('sd21-unet.json'), ['proj_in']).length > 0);
  assert.throws(() => findTargetModules(shapesOnly('sd15-unet.json'), ['to_q', 'proj_in', 'attn1.to_z']), (err: Error) =>
    err instanceof LoraError && /'proj_in', 'attn1\.to_z' match no Linear module/.test(err.message));
});

test('PEFT metadata records the targets asked for and every adapted module path; load reads presets back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'npo-targets-'));
  try {
    const w = WeightSource.fromSafetensors(TINY);
    for (const targets of ['attn+ff', 'all-linear', ['attn1.to_q', 'ff.net.2']] as LoraTargets[]) {
      const adapter = initLora(w, { rank: 2, alpha: 3, targets }, 1);
      const path = join(dir, 'a.safetensors');
      saveLora(path, adapter, { method: 'npo' });
      const meta = SafetensorsFile.open(path).metadata;
      const peft = JSON.parse(meta.lora_adapter_metadata);
      assert.deepEqual(peft['unet.target_modules'], findTargetModules(w, targets));
      assert.equal(peft['unet.r'], 2);
      assert.equal(peft['unet.lora_alpha'], 3);
      assert.deepEqual(loadLora(path).config, { rank: 2, alpha: 3, targets });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- diffusers' rules, reimplemented here from its source (loaders/lora_conversion_utils.py and
// utils/state_dict_utils.py) independently of the exporter: kohya → diffusers → PEFT, and PEFT → kohya. ----

/** `_convert_unet_lora_key`, the branches that can fire for SD1.x/2.x module names. */
function diffusersConvertUnetLoraKey(key: string): string {
  let n = key.replace('lora_unet_', '').replaceAll('_', '.');
  n = n.replaceAll('input.blocks.0.0', 'conv_in').replaceAll('out.2', 'conv_out');
  for (const [a, b] of [
    ['input.blocks', 'down_blocks'], ['down.blocks', 'down_blocks'], ['middle.block', 'mid_block'], ['mid.block', 'mid_block'],
    ['output.blocks', 'up_blocks'], ['up.blocks', 'up_blocks'], ['transformer.blocks', 'transformer_blocks'],
    ['to.q.lora', 'to_q_lora'], ['to.k.lora', 'to_k_lora'], ['to.v.lora', 'to_v_lora'], ['to.out.0.lora', 'to_out_lora'],
    ['proj.in', 'proj_in'], ['proj.out', 'proj_out'], ['emb.layers', 'time_emb_proj'], ['conv.in', 'conv_in'], ['conv.out', 'conv_out'],
    ['time.embed.0', 'time_embedding.linear_1'], ['time.embed.2', 'time_embedding.linear_2'],
    ['label.emb.0.0', 'add_embedding.linear_1'], ['label.emb.0.2', 'add_embedding.linear_2'],
    ['time.embedding.linear.1', 'time_embedding.linear_1'], ['time.embedding.linear.2', 'time_embedding.linear_2'],
  ]) n = n.replaceAll(a, b);
  if (n.includes('emb') && !n.includes('time.emb.proj')) n = n.replace(/\.\d+(?=\D*$)/, '');
  if (n.includes('.in.')) n = n.replaceAll('in.layers.2', 'conv1');
  if (n.includes('.out.')) n = n.replaceAll('out.layers.3', 'conv2');
  if (n.includes('downsamplers') || n.includes('upsamplers')) n = n.replaceAll('op', 'conv');
  if (n.includes('skip')) n = n.replaceAll('skip.connection', 'conv_shortcut');
  if (n.includes('time.emb.proj')) n = n.replaceAll('time.emb.proj', 'time_emb_proj');
  if (n.includes('conv.shortcut')) n = n.replaceAll('conv.shortcut', 'conv_shortcut');
  if (n.includes('transformer_blocks') && (n.includes('attn1') || n.includes('attn2'))) n = n.replaceAll('attn1', 'attn1.processor').replaceAll('attn2', 'attn2.processor');
  return n;
}

/** `convert_unet_state_dict_to_peft`: KEYS_TO_ALWAYS_REPLACE, then the first matching UNET_TO_DIFFUSERS pattern. */
function diffusersUnetToPeft(key: string): string {
  let k = key.replaceAll('.processor.', '.');
  const mapping: [string, string][] = [
    ['.to_out_lora.up', '.to_out.0.lora_B'], ['.to_out_lora.down', '.to_out.0.lora_A'], ['.to_q_lora.down', '.to_q.lora_A'], ['.to_q_lora.up', '.to_q.lora_B'],
    ['.to_k_lora.down', '.to_k.lora_A'], ['.to_k_lora.up', '.to_k.lora_B'], ['.to_v_lora.down', '.to_v.lora_A'], ['.to_v_lora.up', '.to_v.lora_B'],
    ['.lora.up', '.lora_B'], ['.lora.down', '.lora_A'],
  ];
  const hit = mapping.find(([a]) => k.includes(a));
  if (hit) k = k.replaceAll(hit[0], hit[1]);
  return k;
}

/** `_convert_non_diffusers_lora_to_diffusers` for U-Net keys, then to PEFT names: the state dict and the alphas. */
function diffusersLoadKohya(sd: Record<string, HostTensor>): { peft: Record<string, HostTensor>; alphas: Record<string, number> } {
  const left = { ...sd };
  const peft: Record<string, HostTensor> = {};
  const alphas: Record<string, number> = {};
  for (const key of Object.keys(sd)) {
    if (!key.endsWith('lora_down.weight')) continue;
    const loraName = key.split('.')[0];
    assert.ok(loraName.startsWith('lora_unet_'), key);
    const name = diffusersConvertUnetLoraKey(key);
    peft[`unet.${diffusersUnetToPeft(name)}`] = left[key];
    peft[`unet.${diffusersUnetToPeft(name.replace('.down.', '.up.'))}`] = left[`${loraName}.lora_up.weight`];
    delete left[key];
    delete left[`${loraName}.lora_up.weight`];
    const alphaKey = `${loraName}.alpha`;
    if (alphaKey in left) {
      alphas[`unet.${name.split('.lora.')[0]}.alpha`] = (left[alphaKey].data as Float32Array)[0];
      delete left[alphaKey];
    }
  }
  assert.deepEqual(Object.keys(left), [], 'diffusers refuses a file with keys it did not rename');
  return { peft, alphas };
}

/** `convert_state_dict_to_kohya` (PEFT → kohya) key names; it writes alpha = rank, so alphas are compared apart. */
function diffusersPeftToKohyaKeys(peftKeys: string[]): string[] {
  const out: string[] = [];
  for (const key of peftKeys) {
    let k = key.replace('lora_A', 'lora_down').replace('lora_B', 'lora_up');
    if (k.includes('unet')) k = k.replace('unet', 'lora_unet');
    const dots = k.split('.').length - 1;
    for (let i = 0; i < dots - 2; i++) k = k.replace('.', '_');
    out.push(k);
    if (k.includes('lora_down')) out.push(`${k.split('.')[0]}.alpha`);
  }
  return out.sort();
}

test('kohya export round-trips through diffusers’ conversion rules to the same PEFT tensors, for every preset and model', () => {
  for (const [name, weights] of MODELS) {
    const w = weights();
    for (const targets of [...LORA_TARGET_PRESET_NAMES, ['attn2.to_k', 'ff.net.0.proj', 'time_emb_proj', 'linear_2']] as LoraTargets[]) {
      const adapter = initLora(w, { rank: 4, alpha: 2.5, targets }, 7);
      for (const m of adapter.modules.values()) (m.B.data as Float32Array).forEach((_, i, a) => (a[i] = Math.sin(i + 1)));
      const peft = adapterFeeds(adapter);
      const kohya = kohyaTensors(adapter);
      const label = `${name} ${JSON.stringify(targets)}`;
      assert.deepEqual(Object.keys(kohya).sort(), diffusersPeftToKohyaKeys(Object.keys(peft)), `${label}: the names diffusers gives the same adapter`);
      assert.ok(Object.keys(kohya).every((k) => /^lora_unet_[a-z0-9_]+\.(lora_down\.weight|lora_up\.weight|alpha)$/.test(k)), label);
      const back = diffusersLoadKohya(kohya);
      assert.deepEqual(Object.keys(back.peft).sort(), Object.keys(peft).sort(), label);
      for (const [k, t] of Object.entries(peft)) assert.equal(back.peft[k], t, `${label}: ${k} is the same tensor`);
      assert.equal(Object.keys(back.alphas).length, adapter.modules.size, label);
      assert.ok(Object.values(back.alphas).every((a) => a === 2.5), `${label}: every alpha is the adapter's`);
    }
  }
});

test('the kohya file: down/up/alpha per module, alpha a float32 scalar, kohya network metadata', () => {
  const dir = mkdtempSync(join(tmpdir(), 'npo-kohya-'));
  try {
    const adapter = initLora(WeightSource.fromSafetensors(TINY), { rank: 4, alpha: 8, targets: 'attn' }, 3);
    const path = join(dir, 'adapter_kohya.safetensors');
    saveKohyaLora(path, adapter, { method: 'npo', step: 9 });
    const f = SafetensorsFile.open(path);
    const mod = 'down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_out.0';
    const name = 'lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_out_0';
    assert.deepEqual(f.read(`${name}.lora_down.weight`).data, adapter.modules.get(mod)!.A.data);
    assert.deepEqual(f.read(`${name}.lora_up.weight`).data, adapter.modules.get(mod)!.B.data);
    const alpha = f.read(`${name}.alpha`);
    assert.deepEqual([alpha.dtype, alpha.shape, [...alpha.data]], ['float32', [], [8]]);
    assert.equal(f.tensors.size, 3 * adapter.modules.size);
    assert.deepEqual([f.metadata.ss_network_module, f.metadata.ss_network_dim, f.metadata.ss_network_alpha, f.metadata.step], ['networks.lora', '4', '8', '9']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
