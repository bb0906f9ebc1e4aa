// Test helper: CUDA 13 runtime libraries taken from NVIDIA's wheels where a machine keeps them on disk (this
// workplace's images keep them under /opt; NPO_CUDA_WHEEL_DIRS=dir1:dir2 points elsewhere). Extracted once into a
// cache folder keyed by the wheels' names and sizes, so a second run costs nothing.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { spawnSync } from 'node:child_process';

function findWheels(dir: string, depth: number, out: string[]): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    const p = join(dir, n);
    if (/^nvidia_.*\.whl$/.test(n)) out.push(p);
    else if (depth > 0 && !n.startsWith('.') && n !== 'node_modules') {
      try {
        if (statSync(p).isDirectory()) findWheels(p, depth - 1, out);
      } catch {}
    }
  }
  return out;
}

export type WheelLibs = { dir: string } | { skip: string };

/** A folder holding each of `libraries` (file names) extracted from a wheel, or why that cannot be had here. */
export function cudaLibsFromWheels(libraries: string[]): WheelLibs {
  if (spawnSync('unzip', ['-v'], { stdio: 'ignore' }).status !== 0) return { skip: 'unzip is not installed' };
  const dirs = (process.env.NPO_CUDA_WHEEL_DIRS ?? '/opt').split(':').filter(Boolean);
  const wheels = [...new Set(dirs.flatMap((d) => findWheels(d, 3, [])))].sort();
  const where = new Map<string, { wheel: string; member: string }>();
  for (const wheel of wheels) {
    const list = spawnSync('unzip', ['-Z1', wheel], { encoding: 'utf8', maxBuffer: 64 << 20 });
    for (const member of list.stdout.split('\n')) {
      const lib = basename(member);
      if (libraries.includes(lib) && !where.has(lib)) where.set(lib, { wheel, member });
    }
  }
  const lacking = libraries.filter((l) => !where.has(l));
  if (lacking.length) return { skip: `no NVIDIA CUDA 13 wheel under ${dirs.join(':')} holds ${lacking.join(', ')} (set NPO_CUDA_WHEEL_DIRS)` };
  const key = createHash('sha256')
    .update(JSON.stringify([...where].map(([lib, w]) => [lib, w.member, basename(w.wheel), statSync(w.wheel).size])))
    .digest('hex')
    .slice(0, 16);
  const dir = join(tmpdir(), `npo-cuda-wheel-libs-${key}`);
  if (existsSync(dir)) return { dir };
  const partial = `${dir}.${process.pid}.partial`;
  mkdirSync(partial, { recursive: true });
  for (const { wheel, member } of where.values()) {
    const r = spawnSync('unzip', ['-qjo', wheel, member, '-d', partial], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`unzip ${wheel} ${member}: ${r.stderr}`);
  }
  renameSync(partial, dir);
  return { dir };
}
