// Minimal types for the untyped archive libraries this module uses (only the parts it calls).
declare module 'yauzl' {
  import type { Readable } from 'node:stream';
  export interface Entry {
    fileName: string | Buffer;
    fileNameRaw: Buffer;
    extraFields: { id: number; data: Buffer }[];
    generalPurposeBitFlag: number;
    compressedSize: number;
    uncompressedSize: number;
    compressionMethod: number;
    externalFileAttributes: number;
    isEncrypted(): boolean;
  }
  export interface ZipFile {
    entryCount: number;
    readEntry(): void;
    openReadStream(entry: Entry, cb: (err: Error | null, stream: Readable) => void): void;
    close(): void;
    on(event: 'entry', cb: (entry: Entry) => void): this;
    on(event: 'end', cb: () => void): this;
    on(event: 'error', cb: (err: Error) => void): this;
    once(event: string, cb: (...args: any[]) => void): this;
    removeListener(event: string, cb: (...args: any[]) => void): this;
  }
  export interface OpenOptions {
    lazyEntries?: boolean;
    autoClose?: boolean;
    decodeStrings?: boolean;
    validateEntrySizes?: boolean;
    strictFileNames?: boolean;
  }
  export function open(path: string, opts: OpenOptions, cb: (err: Error | null, zip: ZipFile) => void): void;
  export function getFileNameLowLevel(flag: number, raw: Buffer, extra: { id: number; data: Buffer }[], strict: boolean): string;
  const yauzl: { open: typeof open; getFileNameLowLevel: typeof getFileNameLowLevel };
  export default yauzl;
}

declare module 'yazl' {
  import type { Readable } from 'node:stream';
  export class ZipFile {
    outputStream: Readable;
    addBuffer(buffer: Buffer, name: string, opts?: { compress?: boolean; mode?: number; compressionLevel?: number }): void;
    end(): void;
  }
}
