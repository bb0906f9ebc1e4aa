import { open, type FileHandle } from 'node:fs/promises';

/**
 * hyparquet's AsyncBuffer over a local file: every `slice` is a positioned read of just that byte range, so a
 * reader holds the footer and the row group it is working on, never the whole file (and files over 2 GiB work).
 */
export interface FileAsyncBuffer {
  byteLength: number;
  slice(start: number, end?: number): Promise<ArrayBuffer>;
  close(): Promise<void>;
  /** Bytes handed out so far (lets tests and benches check that reads stay ranged). */
  bytesRead: number;
}

export async function openFileAsyncBuffer(path: string): Promise<FileAsyncBuffer> {
  const handle: FileHandle = await open(path, 'r');
  const { size } = await handle.stat();
  const buffer: FileAsyncBuffer = {
    byteLength: size,
    bytesRead: 0,
    async slice(start: number, end: number = size): Promise<ArrayBuffer> {
      const s = Math.max(0, Math.min(start, size));
      const e = Math.max(s, Math.min(end, size));
      const out = new ArrayBuffer(e - s);
      const view = new Uint8Array(out);
      let done = 0;
      while (done < view.length) {
        const { bytesRead } = await handle.read(view, done, view.length - done, s + done);
        if (bytesRead === 0) throw new Error(`${path}: unexpected end of file at byte ${s + done}`);
        done += bytesRead;
      }
      buffer.bytesRead += done;
      return out;
    },
    close: () => handle.close(),
  };
  return buffer;
}
