import { closeSync, openSync, readSync } from 'node:fs';

/** What the dynamic loader reads from a shared library: the libraries it needs and where it may look for them. */
export interface ElfDynamic {
  needed: string[];
  runpath: string[];
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_RPATH = 15n;
const DT_RUNPATH = 29n;

function readAt(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const n = readSync(fd, buf, 0, length, offset);
  return buf.subarray(0, n);
}

/**
 * Reads DT_NEEDED and DT_RUNPATH/DT_RPATH of a 64-bit little-endian ELF file, touching only its headers (the CUDA
 * provider library is 219 MiB). The library itself is the one owner of what it links, so nothing here lists it.
 */
export function readElfDynamic(path: string): ElfDynamic {
  const fd = openSync(path, 'r');
  try {
    const head = readAt(fd, 0, 64);
    if (head.length < 64 || head.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path} is not an ELF file`);
    if (head[4] !== 2 || head[5] !== 1) throw new Error(`${path} is not a 64-bit little-endian ELF file`);
    const phoff = Number(head.readBigUInt64LE(0x20));
    const phentsize = head.readUInt16LE(0x36);
    const phnum = head.readUInt16LE(0x38);
    const ph = readAt(fd, phoff, phentsize * phnum);
    const loads: { vaddr: bigint; offset: bigint; filesz: bigint }[] = [];
    let dynamic: { offset: number; size: number } | undefined;
    for (let i = 0; i < phnum; i++) {
      const p = ph.subarray(i * phentsize, (i + 1) * phentsize);
      const type = p.readUInt32LE(0);
      if (type === PT_LOAD) loads.push({ offset: p.readBigUInt64LE(8), vaddr: p.readBigUInt64LE(16), filesz: p.readBigUInt64LE(32) });
      if (type === PT_DYNAMIC) dynamic = { offset: Number(p.readBigUInt64LE(8)), size: Number(p.readBigUInt64LE(32)) };
    }
    if (!dynamic) return { needed: [], runpath: [] };
    const dyn = readAt(fd, dynamic.offset, dynamic.size);
    const neededAt: bigint[] = [];
    const runpathAt: bigint[] = [];
    let strtab: bigint | undefined;
    for (let o = 0; o + 16 <= dyn.length; o += 16) {
      const tag = dyn.readBigInt64LE(o);
      const val = dyn.readBigUInt64LE(o + 8);
      if (tag === 0n) break;
      if (tag === DT_NEEDED) neededAt.push(val);
      else if (tag === DT_STRTAB) strtab = val;
      else if (tag === DT_RUNPATH || tag === DT_RPATH) runpathAt.push(val);
    }
    if (strtab === undefined) throw new Error(`${path}: dynamic section without a string table`);
    const seg = loads.find((l) => strtab! >= l.vaddr && strtab! < l.vaddr + l.filesz);
    if (!seg) throw new Error(`${path}: string table outside every loaded segment`);
    const strtabOffset = Number(strtab - seg.vaddr + seg.offset);
    const str = (at: bigint): string => {
      const chunk = readAt(fd, strtabOffset + Number(at), 4096);
      const end = chunk.indexOf(0);
      return chunk.subarray(0, end < 0 ? chunk.length : end).toString('utf8');
    };
    return { needed: neededAt.map(str), runpath: runpathAt.flatMap((a) => str(a).split(':')).filter(Boolean) };
  } finally {
    closeSync(fd);
  }
}
