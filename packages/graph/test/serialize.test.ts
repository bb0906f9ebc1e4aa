// The ONNX writer: loadable by path, valid structure, side file, external data pointing into safetensors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema } from 'onnx-buf';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grad } from '../src/autodiff.ts';
import { Graph } from '../src/graph.ts';
import * as o from '../src/ops.ts';
import { Session } from '../src/runner.ts';
import { SafetensorsFile, writeSafetensors } from '../src/safetensors.ts';
import { OPSET, saveModel, serialize } from '../src/serialize.ts';
import { f32, maxAbsDiff, normal, runOnce } from './helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'graph-ser-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** A small MLP with a large (side-file sized) frozen weight, its gradient, and a dead branch. */
function mlp() {
  const g = new Graph();
  const x = g.input('x', 'float32', [2, 200]);
  const big = g.initializer('frozen.weight', normal([100, 200], 3, 0.1)); // 80 kB > inline limit
  const small = g.initializer('frozen.bias', normal([100], 4));
  const w = g.input('lora', 'float32', [100, 100]);
  const h = g.scope('block', () => o.gelu(o.linear(x, big, small)));
  const y = o.matmul(h, w);
  const loss = o.reduceMean(o.square(y));
  o.exp(o.sin(h)); // dead: no output depends on it
  const [dw] = grad(loss, [w]);
  g.output('loss', loss);
  g.output('dw', dw);
  return g;
}

const feeds = () => ({ x: normal([2, 200], 1), lora: normal([100, 100], 2, 0.1) });

test('a saved model loads by path with its side file and computes what the in-memory model computes', async () => {
  const g = mlp();
  const path = join(tmp, 'mlp', 'model.onnx');
  const saved = saveModel(g, path);
  assert.ok(saved.sideFile && existsSync(saved.sideFile), 'large initializer went to the side file');
  assert.ok(statSync(saved.sideFile!).size >= 100 * 200 * 4);
  assert.ok(saved.bytes < 64 * 1024, `model file is ${saved.bytes} bytes`);
  const model = fromBinary(ModelProtoSchema, readFileSync(path));
  const ext = model.graph!.initializer.find((t) => t.name === 'frozen.weight')!;
  assert.equal(ext.externalData.find((e) => e.key === 'location')!.value, 'model.onnx.data');
  assert.ok(model.graph!.initializer.find((t) => t.name === 'frozen.bias')!.rawData.byteLength === 400, 'small one stays inline');

  const byPath = await Session.create(path, { threads: 1 });
  const a = await byPath.run(feeds());
  await byPath.release();
  const b = await runOnce(g, feeds());
  assert.ok(maxAbsDiff(a.dw.data as Float32Array, b.dw.data as Float32Array) === 0);
  assert.ok(Math.abs((a.loss.data[0] as number) - (b.loss.data[0] as number)) === 0);
  assert.ok((a.loss.data[0] as number) > 0);
});

test('the model is structurally valid: opset declared, names unique, topological order, dead nodes pruned', () => {
  const g = mlp();
  const model = fromBinary(ModelProtoSchema, serialize(g));
  assert.deepEqual(model.opsetImport.map((x) => [x.domain, Number(x.version)]), [['', OPSET]]);
  assert.ok(model.irVersion > 0n);
  const gp = model.graph!;
  const defined = new Set<string>([...gp.input.map((v) => v.name), ...gp.initializer.map((t) => t.name)]);
  const nodeNames = new Set<string>();
  for (const n of gp.node) {
    assert.ok(n.name && !nodeNames.has(n.name), `node name '${n.name}' unique`);
    nodeNames.add(n.name);
    for (const i of n.input) if (i) assert.ok(defined.has(i), `'${i}' used by ${n.name} before it is defined`);
    for (const out of n.output) {
      assert.ok(!defined.has(out), `value '${out}' defined twice`);
      defined.add(out);
    }
  }
  for (const out of gp.output) assert.ok(defined.has(out.name));
  assert.ok(!gp.node.some((n) => n.opType === 'Sin'), 'the dead branch was pruned');
  assert.ok(g.nodes.some((n) => n.op === 'Sin'), '…though the builder recorded it');
  const inits = gp.initializer.map((t) => t.name);
  assert.equal(new Set(inits).size, inits.length);
  assert.ok(gp.node.some((n) => n.name.startsWith('block/')), 'scopes prefix node names');
});

test('external initializers read straight from safetensors files (root and subfolder) give the same outputs', async () => {
  const dir = join(tmp, 'ext');
  mkdirSync(join(dir, 'unet'), { recursive: true });
  const wData = normal([6, 5], 7);
  const bData = normal([6], 8);
  // Extra tensors and odd sizes, so offsets are not trivially aligned or zero.
  writeSafetensors(join(dir, 'weights.safetensors'), { 'a.pad': normal([3], 0), 'b.weight': wData });
  writeSafetensors(join(dir, 'unet', 'model.safetensors'), { 'a.odd': { dtype: 'int8', shape: [5], data: new Int8Array(5) }, 'b.bias': bData });
  const root = SafetensorsFile.open(join(dir, 'weights.safetensors'));
  const sub = SafetensorsFile.open(join(dir, 'unet', 'model.safetensors'));
  assert.ok(sub.entry('b.bias').offset % 4 !== 0 || root.entry('b.weight').offset > 8);

  const build = (external: boolean) => {
    const g = new Graph();
    const x = g.input('x', 'float32', [3, 5]);
    const fromFile = (st: SafetensorsFile, name: string, data: typeof wData) => {
      const e = st.entry(name);
      return external ? g.externalInitializer(name, e.dtype, e.shape, { path: st.path, offset: e.offset, length: e.length }) : g.initializer(name, data);
    };
    g.output('y', o.linear(x, fromFile(root, 'b.weight', wData), fromFile(sub, 'b.bias', bData)));
    return g;
  };
  const path = join(dir, 'model.onnx');
  saveModel(build(true), path);
  const model = fromBinary(ModelProtoSchema, readFileSync(path));
  const loc = (n: string) => Object.fromEntries(model.graph!.initializer.find((t) => t.name === n)!.externalData.map((e) => [e.key, e.value]));
  assert.deepEqual(loc('b.bias'), { location: 'unet/model.safetensors', offset: String(sub.entry('b.bias').offset), length: '24' });
  assert.equal(loc('b.weight').offset, String(8 + Number(readFileSync(join(dir, 'weights.safetensors')).readBigUInt64LE(0)) + 12));
  const s = await Session.create(path, { threads: 1 });
  const x = normal([3, 5], 9);
  const viaFile = (await s.run({ x })).y;
  await s.release();
  const inline = (await runOnce(build(false), { x })).y;
  assert.deepEqual([...viaFile.data], [...inline.data]);
  assert.ok(maxAbsDiff(viaFile.data as Float32Array, new Float32Array(18)) > 0.1);
});

test('external data outside the model folder fails with a message saying where to save', () => {
  const weights = join(tmp, 'outside.safetensors');
  writeSafetensors(weights, { w: f32([2], [1, 2]) });
  const e = SafetensorsFile.open(weights).entry('w');
  const g = new Graph();
  const w = g.externalInitializer('w', 'float32', [2], { path: weights, offset: e.offset, length: e.length });
  g.output('y', o.mul(g.input('x', 'float32', [2]), w));
  assert.throws(() => saveModel(g, join(tmp, 'nested', 'model.onnx')), /outside the model folder.*save the model in a folder that contains the weights/);
  assert.throws(() => serialize(g), /external data: save the model by path/);
  assert.throws(() => g.externalInitializer('w2', 'float32', [3], { path: weights, offset: e.offset, length: 8 }), /8 bytes.*needs 12/);
});

test('a weights file whose name starts with ".." is inside; a symlink resolving outside is refused before onnxruntime sees it', async () => {
  const dir = join(tmp, 'dots');
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, '..weights.safetensors'), { w: f32([2], [3, 4]) });
  writeSafetensors(join(tmp, 'elsewhere.safetensors'), { w: f32([2], [3, 4]) });
  symlinkSync(join(tmp, 'elsewhere.safetensors'), join(dir, 'linked.safetensors'));
  const build = (file: string) => {
    const e = SafetensorsFile.open(file).entry('w');
    const g = new Graph();
    g.output('y', o.mul(g.input('x', 'float32', [2]), g.externalInitializer('w', 'float32', [2], { path: file, offset: e.offset, length: e.length })));
    return g;
  };
  saveModel(build(join(dir, '..weights.safetensors')), join(dir, 'model.onnx'));
  const s = await Session.create(join(dir, 'model.onnx'), { threads: 1 });
  assert.deepEqual([...(await s.run({ x: f32([2], [1, 2]) })).y.data], [3, 8]);
  await s.release();
  assert.throws(() => saveModel(build(join(dir, 'linked.safetensors')), join(dir, 'model2.onnx')), /linked\.safetensors' is outside the model folder/);
});
