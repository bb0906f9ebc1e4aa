import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, normalize, isAbsolute } from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';

/** Extracts regular files of a tar into `dir`, refusing paths that would escape it. */
export async function extractTar(file: string, dir: string): Promise<string[]> {
  const extract = tar.extract();
  const written: string[] = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const rel = normalize(header.name).replace(/^(\.\/)+/, '');
      if (header.type !== 'file' || !rel || rel === '.' || isAbsolute(rel) || rel.startsWith('..')) {
        stream.resume();
        stream.on('end', next);
        return;
      }
      const out = join(dir, rel);
      mkdir(dirname(out), { recursive: true })
        .then(() => pipeline(stream, createWriteStream(out)))
        .then(() => { written.push(rel); next(); }, reject);
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  await Promise.all([pipeline(createReadStream(file), extract), done]);
  return written;
}
