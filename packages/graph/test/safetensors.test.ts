// safetensors IO: round trips, header alignment, validation errors, and files above 2 GiB read by range.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DTYPES, type DType, type HostTensor } from '../src/dtype.ts';
import { readSafetensors, SafetensorsError, SafetensorsFile, writeSafetensors } from '../src/safetensors.ts';

const tmp = mkdtempSync(join(tmpdir(), 'graph-st-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function sample(dtype: DType, shape: number[]): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new DTYPES[dtype].array(n);
  for (let i = 0; i < n; i++) {
    if (dtype === 'int64') (data as BigInt64Array)[i] = BigInt(i * 1_000_000_007 - 3);
    else if (dtype === 'bool') data[i] = i % 3 === 0 ? 1 : 0;
    else if (dtype === 'float16') data[i] = 0x3c00 + i; // raw half bits
    else (data as Float32Array)[i] = dtype.startsWith('float') ? i * 0.37 - 1.5 : (i * 7) % 100 - (dtype.startsWith('u') ? 0 : 50);
  }
  return { dtype, shape, data };
}

/** A safetensors file from a literal header object (and data bytes), for malformed-input tests. */
function rawFile(name: string, header: string | object, data = new Uint8Array(0), declaredLen?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(declaredLen ?? BigInt(json.length));
  const p = join(tmp, name);
  writeFileSync(p, Buffer.concat([len, json, data]));
  return p;
}

test('every dtype round-trips with metadata and the exact bytes', () => {
  const tensors: Record<string, HostTensor> = {};
  for (const d of Object.keys(DTYPES) as DType[]) tensors[`t_${d}`] = sample(d, [2, 3]);
  tensors.scalar = sample('float32', []);
  tensors.empty = sample('float32', [0, 4]);
  const p = join(tmp, 'all.safetensors');
  writeSafetensors(p, tensors, { rank: '4', format: 'pt' });
  const f = SafetensorsFile.open(p);
  assert.deepEqual(f.metadata, { rank: '4', format: 'pt' });
  const back = readSafetensors(p);
  assert.deepEqual(Object.keys(back).sort(), Object.keys(tensors).sort());
  for (const [k, t] of Object.entries(tensors)) {
    assert.equal(back[k].dtype, t.dtype, k);
    assert.deepEqual(back[k].shape, t.shape, k);
    assert.deepEqual([...back[k].data], [...t.data], k);
    assert.equal(back[k].data.constructor, t.data.constructor, k);
  }
  const e = f.entry('t_int64');
  const header = readFileSync(p);
  assert.equal(header.readBigInt64LE(e.offset), -3n, 'entry offset points at the first element');
});

test('header is padded to 8 bytes by UTF-8 length, so data stays aligned with non-ASCII names', () => {
  for (const name of ['w', 'ünïcødé.wëight', '重み', 'a'.repeat(13)]) {
    const p = join(tmp, 'align.safetensors');
    writeSafetensors(p, { [name]: sample('float64', [3]) }, { note: 'é' });
    const buf = readFileSync(p);
    const headerLen = Number(buf.readBigUInt64LE(0));
    assert.equal((8 + headerLen) % 8, 0, `header of '${name}' is ${headerLen} bytes`);
    assert.deepEqual(JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8'))[name].data_offsets, [0, 24]);
    assert.equal(SafetensorsFile.open(p).entry(name).offset % 8, 0);
    assert.deepEqual([...readSafetensors(p)[name].data], [...sample('float64', [3]).data]);
  }
});

test('malformed files fail with a SafetensorsError that says what is wrong', () => {
  const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const cases: [string, string, RegExp][] = [
    ['short', (writeFileSync(join(tmp, 'short'), Buffer.alloc(5)), join(tmp, 'short')), /too short/],
    ['truncated', rawFile('trunc', ok, new Uint8Array(4)), /truncated/],
    ['huge header', rawFile('huge', ok, new Uint8Array(8), 1n << 40n), /header length .* does not fit/],
    ['header past end', rawFile('past', ok, new Uint8Array(8), 500n), /does not fit/],
    ['bad json', rawFile('json', '{"a": {"dtype": "F32",', new Uint8Array(8)), /not valid JSON/],
    ['not an object', rawFile('arr', '[1, 2]'), /not a JSON object/],
    ['overlap', rawFile('overlap', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12)), /'a' and 'b' overlap/],
    ['wrong size', rawFile('size', { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), /spans 8 bytes.*need 12/],
    ['missing field', rawFile('field', { a: { dtype: 'F32', data_offsets: [0, 8] } }, new Uint8Array(8)), /malformed header entry/],
    ['unknown dtype', rawFile('dtype', { a: { dtype: 'Q7', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8)), /'a'.*unsupported safetensors dtype 'Q7'/],
  ];
  for (const [what, path, re] of cases)
    assert.throws(() => SafetensorsFile.open(path), (e: Error) => e instanceof SafetensorsError && re.test(e.message) && e.message.includes(path), what);
  const good = SafetensorsFile.open(rawFile('good', ok, new Uint8Array(8)));
  assert.throws(() => good.entry('nope'), (e: Error) => e instanceof SafetensorsError && /no tensor named 'nope'/.test(e.message));
});

test('a file above 2 GiB is read by range without loading it whole', () => {
  // One huge (sparse, never written) uint8 tensor, then a small float32 tensor at the very end.
  const big = 2 ** 31 + 4096;
  const header: Record<string, unknown> = {
    a_big: { dtype: 'U8', shape: [big], data_offsets: [0, big] },
    b_small: { dtype: 'F32', shape: [3], data_offsets: [big, big + 12] },
  };
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((json.length + 8) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const p = join(tmp, 'big.safetensors');
  const fd = openSync(p, 'w');
  try {
    writeSync(fd, Buffer.concat([len, Buffer.from(json)]), 0, 8 + json.length, 0);
    writeSync(fd, Buffer.from(Float32Array.from([1.5, -2, 3.25]).buffer), 0, 12, 8 + json.length + big);
  } finally {
    closeSync(fd);
  }
  assert.ok(statSync(p).size > 2 ** 31, 'file is above 2 GiB');
  assert.throws(() => readFileSync(p), 'readFileSync refuses it, so the reader must use ranges');
  const f = SafetensorsFile.open(p);
  assert.equal(f.entry('b_small').offset, 8 + json.length + big);
  assert.deepEqual([...f.read('b_small').data], [1.5, -2, 3.25]);
  rmSync(p);
});
