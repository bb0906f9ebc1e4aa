import { closeSync, openSync, readSync, writeSync, fstatSync, renameSync, fsyncSync } from 'node:fs';
import { DTYPES, dtypeFromSafetensors, numel, type DType, type HostTensor } from './dtype.ts';

/** Where one tensor lives inside a .safetensors file: enough to read it, or to point ONNX external data at it. */
export interface TensorEntry {
  name: string;
  dtype: DType;
  shape: number[];
  /** Absolute byte offset in the file (8 + header length + data_offsets[0]). */
  offset: number;
  length: number;
}

export class SafetensorsError extends Error {
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

const MAX_HEADER = 100 * 1024 * 1024;

/**
 * A .safetensors file opened for reading by byte ranges: the header is parsed and validated up front,
 * tensors are read one at a time, so files far above 2 GiB work and nothing is loaded whole.
 */
export class SafetensorsFile {
  readonly tensors = new Map<string, TensorEntry>();
  readonly metadata: Record<string, string>;

  private constructor(readonly path: string, header: Record<string, unknown>, dataStart: number, fileSize: number) {
    const { __metadata__, ...rest } = header as { __metadata__?: Record<string, string> };
    this.metadata = __metadata__ ?? {};
    const spans: [number, number, string][] = [];
    for (const [name, raw] of Object.entries(rest)) {
      const info = raw as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
      if (!info || typeof info.dtype !== 'string' || !Array.isArray(info.shape) || !Array.isArray(info.data_offsets))
        throw new SafetensorsError(path, `tensor '${name}' has a malformed header entry`);
      let dtype: DType;
      try {
        dtype = dtypeFromSafetensors(info.dtype);
      } catch (e) {
        throw new SafetensorsError(path, `tensor '${name}': ${(e as Error).message}`);
      }
      const [begin, end] = info.data_offsets;
      const expected = numel(info.shape) * DTYPES[dtype].bytes;
      if (!(end - begin === expected && begin >= 0))
        throw new SafetensorsError(path, `tensor '${name}' spans ${end - begin} bytes, its dtype and shape need ${expected}`);
      if (dataStart + end > fileSize)
        throw new SafetensorsError(path, `tensor '${name}' ends at byte ${dataStart + end}, past the end of the file (${fileSize} bytes): truncated?`);
      spans.push([begin, end, name]);
      this.tensors.set(name, { name, dtype, shape: info.shape, offset: dataStart + begin, length: end - begin });
    }
    spans.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++)
      if (spans[i][0] < spans[i - 1][1]) throw new SafetensorsError(path, `tensors '${spans[i - 1][2]}' and '${spans[i][2]}' overlap`);
  }

  static open(path: string): SafetensorsFile {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size < 8) throw new SafetensorsError(path, `file is ${size} bytes, too short for a safetensors header`);
      const lenBuf = Buffer.alloc(8);
      readSync(fd, lenBuf, 0, 8, 0);
      const headerLen = Number(lenBuf.readBigUInt64LE(0));
      if (headerLen > MAX_HEADER || 8 + headerLen > size)
        throw new SafetensorsError(path, `header length ${headerLen} does not fit in a ${size}-byte file: not a safetensors file, or truncated`);
      const headerBuf = Buffer.alloc(headerLen);
      readSync(fd, headerBuf, 0, headerLen, 8);
      let header: unknown;
      try {
        header = JSON.parse(headerBuf.toString('utf8'));
      } catch {
        throw new SafetensorsError(path, 'header is not valid JSON');
      }
      if (!header || typeof header !== 'object' || Array.isArray(header)) throw new SafetensorsError(path, 'header is not a JSON object');
      return new SafetensorsFile(path, header as Record<string, unknown>, 8 + headerLen, size);
    } finally {
      closeSync(fd);
    }
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  entry(name: string): TensorEntry {
    const e = this.tensors.get(name);
    if (!e) throw new SafetensorsError(this.path, `no tensor named '${name}'`);
    return e;
  }

  read(name: string): HostTensor {
    const e = this.entry(name);
    // A fresh ArrayBuffer, so the typed array starts aligned (a Buffer may be an offset into a shared pool).
    const aligned = new ArrayBuffer(e.length);
    const buf = new Uint8Array(aligned);
    const fd = openSync(this.path, 'r');
    try {
      let done = 0;
      while (done < e.length) {
        const n = readSync(fd, buf, done, Math.min(e.length - done, 1 << 30), e.offset + done);
        if (n === 0) throw new SafetensorsError(this.path, `unexpected end of file reading '${name}'`);
        done += n;
      }
    } finally {
      closeSync(fd);
    }
    const info = DTYPES[e.dtype];
    return { dtype: e.dtype, shape: [...e.shape], data: new info.array(aligned, 0, e.length / info.bytes) };
  }

  readAll(): Record<string, HostTensor> {
    const out: Record<string, HostTensor> = {};
    for (const name of this.tensors.keys()) out[name] = this.read(name);
    return out;
  }
}

export function readSafetensors(path: string): Record<string, HostTensor> {
  return SafetensorsFile.open(path).readAll();
}

/**
 * Writes tensors (sorted by name, 8-byte aligned header as the reference writer does) to `path`,
 * via a temporary file and rename so a crash never leaves a half-written file under the real name.
 */
export function writeSafetensors(path: string, tensors: Record<string, HostTensor>, metadata?: Record<string, string>): void {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const bytes = numel(t.shape) * DTYPES[t.dtype].bytes;
    if (t.data.byteLength !== bytes) throw new Error(`tensor '${name}': ${t.data.byteLength} bytes of data for shape [${t.shape}] ${t.dtype}`);
    header[name] = { dtype: DTYPES[t.dtype].safetensors, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = JSON.stringify(header);
  // Pad by UTF-8 bytes (not string length, which differs for non-ASCII names) so tensor data starts 8-byte aligned.
  const jsonBytes = Buffer.byteLength(json, 'utf8');
  const headerBuf = Buffer.from(json + ' '.repeat((8 - ((jsonBytes + 8) % 8)) % 8), 'utf8');
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(headerBuf.length));
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, lenBuf);
    writeSync(fd, headerBuf);
    for (const name of names) {
      const d = tensors[name].data;
      writeSync(fd, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
