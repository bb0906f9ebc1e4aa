// scripts/gpu-bundle.sh and scripts/gpu-check.sh, exercised here up to the point where a GPU is required: the bundle
// is built from this commit, split into parts of at most 64 MiB, then checked, re-joined and unpacked as on the GPU
// machine; the unpacked tree finds CUDA 13's libraries from NVIDIA's wheels and stops (exit 3) at the one library only
// a GPU machine has, the driver's libcuda.so.1. A damaged part is refused before anything is unpacked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CUDA_RUNTIME_LOADED_LIBRARIES } from '../src/cuda/cuda-provider.ts';
import { readElfDynamic } from '../src/cuda/elf-dynamic.ts';
import { tryLoadLibrary } from '../src/cuda/native-library.ts';
import { cudaLibsFromWheels } from './cuda-wheels.ts';

const root = new URL('../../..', import.meta.url).pathname;
const PART_LIMIT = 64 * 1024 * 1024;
const figures = (stdout: string) => stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));

test('gpu-bundle.sh builds parts of at most 64 MiB; gpu-check.sh unpacks them and stops where CUDA needs the driver', { timeout: 900_000 }, (t) => {
  if (spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root }).status !== 0) return t.skip('not a git checkout');
  const tmp = mkdtempSync(join(tmpdir(), 'npo-gpu-scripts-'));
  try {
    const out = join(tmp, 'bundle');
    const built = spawnSync('bash', [join(root, 'scripts/gpu-bundle.sh'), '--out', out, '--part-size', '64M', '--xz-level', '0'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
    assert.equal(built.status, 0, built.stderr.slice(-3000));
    const summary = JSON.parse(built.stdout.trim().split('\n').at(-1)!);
    const parts = readdirSync(out).filter((f) => f.startsWith('npo-gpu-bundle.tar.xz.part-')).sort();
    assert.equal(summary.parts, parts.length);
    assert.ok(parts.length >= 2, 'the CUDA provider alone is over 64 MiB');
    for (const p of parts) assert.ok(statSync(join(out, p)).size <= PART_LIMIT, `${p} is over 64 MiB`);
    assert.deepEqual(readFileSync(join(out, 'SHA256SUMS'), 'utf8').trim().split('\n').map((l) => l.split(/\s+/)[1]), parts);
    t.diagnostic(`bundle: ${parts.length} parts, ${(summary.bytes / 2 ** 20).toFixed(0)} MiB (xz -0), ${(summary.unpacked_bytes / 2 ** 20).toFixed(0)} MiB unpacked`);

    const work = join(tmp, 'work');
    const env: Record<string, string | undefined> = { ...process.env, NPO_CUDA_LIB_DIRS: undefined, LD_LIBRARY_PATH: undefined };
    // CUDA 13's libraries as a GPU machine's PyTorch wheels hold them, where this machine keeps those wheels
    const provider = join(tmp, 'provider-needs');
    let wheels: string | null = null;
    if (!tryLoadLibrary('libcuda.so.1').loaded) {
      const check = spawnSync('bash', [join(root, 'scripts/gpu-check.sh'), '--bundle', out, '--work', work, '--skip-bench', '--skip-job'], { encoding: 'utf8', env: { ...env, NPO_CUDA_LIB_DIRS: provider } });
      assert.equal(check.status, 3, check.stderr.slice(-3000));
      const [bundle, gpu, cuda] = figures(check.stdout);
      assert.equal(bundle.figure, 'bundle');
      assert.equal(bundle.ok, true);
      assert.equal(bundle.manifest.commit, summary.commit);
      assert.equal(gpu.figure, 'gpu');
      assert.equal(cuda.figure, 'cuda_provider');
      assert.ok(cuda.missing.includes('libcuda.so.1'));
      const glibc = /^(libc|libm|libdl|librt|libpthread|libgcc_s|libstdc\+\+)\.so|^ld-linux/;
      const { needed } = readElfDynamic(join(work, 'npo-forge/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so'));
      const libs = cudaLibsFromWheels([...needed, ...CUDA_RUNTIME_LOADED_LIBRARIES].filter((l) => !glibc.test(l) && l !== 'libcuda.so.1'));
      if ('dir' in libs) wheels = libs.dir;
      else t.diagnostic(`CUDA 13 libraries not available here (${libs.skip}): only the bundle round trip is checked`);
    }
    if (wheels) {
      const again = spawnSync('bash', [join(root, 'scripts/gpu-check.sh'), '--bundle', out, '--work', work, '--skip-bench', '--skip-job'], { encoding: 'utf8', env: { ...env, NPO_CUDA_LIB_DIRS: wheels } });
      assert.equal(again.status, 3, again.stderr.slice(-3000));
      const cuda = figures(again.stdout).find((f) => f.figure === 'cuda_provider');
      assert.deepEqual(cuda.missing, ['libcuda.so.1'], 'with CUDA 13 from the wheels, only the driver is missing');
    }

    // one flipped byte in the last part: refused by its checksum, nothing unpacked
    const last = join(out, parts.at(-1)!);
    const fd = openSync(last, 'r+');
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, 100);
    writeSync(fd, Buffer.from([byte[0] ^ 0xff]), 0, 1, 100);
    closeSync(fd);
    rmSync(work, { recursive: true, force: true });
    const bad = spawnSync('bash', [join(root, 'scripts/gpu-check.sh'), '--bundle', out, '--work', work], { encoding: 'utf8', env });
    assert.equal(bad.status, 1);
    assert.deepEqual(figures(bad.stdout), [{ figure: 'bundle', ok: false, error: 'a part does not match SHA256SUMS' }]);
    assert.throws(() => statSync(work), 'nothing is unpacked from a damaged bundle');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
