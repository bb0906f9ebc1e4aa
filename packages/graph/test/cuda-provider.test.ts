// The CUDA provider from the npm registry: `npm run setup:gpu` places it; asking for cuda names each library that
// cannot be loaded and where it was looked for. On this GPU-less machine, with CUDA 13's runtime libraries from
// NVIDIA's wheels on the loader path, the one library still missing must be the driver's libcuda.so.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CUDA_RUNTIME_LOADED_LIBRARIES, findCudaProviderProblems, onnxruntimeBindingDir } from '../src/cuda/cuda-provider.ts';
import { readElfDynamic } from '../src/cuda/elf-dynamic.ts';
import { tryLoadLibrary } from '../src/cuda/native-library.ts';
import { cudaLibsFromWheels } from './cuda-wheels.ts';

const root = new URL('../../..', import.meta.url).pathname;

test('a binding folder without the provider libraries: both are named, with the folder and `npm run setup:gpu`', () => {
  const dir = mkdtempSync(join(tmpdir(), 'npo-no-provider-'));
  try {
    const problems = findCudaProviderProblems(dir);
    assert.deepEqual(problems.map((p) => p.library), ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so']);
    for (const p of problems) {
      assert.equal(p.lookedIn, dir);
      assert.match(p.remedy, /npm run setup:gpu/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the ELF reader lists what the CUDA provider links, as the loader sees it', { timeout: 600_000 }, (t) => {
  const setup = spawnSync('bash', [join(root, 'scripts/setup-gpu.sh')], { encoding: 'utf8' });
  assert.equal(setup.status, 0, setup.stderr);
  const { needed } = readElfDynamic(join(onnxruntimeBindingDir(), 'libonnxruntime_providers_cuda.so'));
  for (const lib of ['libcudart.so.13', 'libcublas.so.13', 'libcublasLt.so.13', 'libcurand.so.10', 'libcuda.so.1']) assert.ok(needed.includes(lib), `${lib} in ${needed}`);
  const shared = readElfDynamic(join(onnxruntimeBindingDir(), 'onnxruntime_binding.node'));
  assert.deepEqual(shared.runpath, ['$ORIGIN/']);
  t.diagnostic(`provider links ${needed.join(' ')}`);
});

test('setup:gpu + CUDA 13 libraries on the loader path: only the driver library libcuda.so.1 is missing, and a cuda session says so', { timeout: 600_000 }, (t) => {
  if (tryLoadLibrary('libcuda.so.1').loaded) return t.skip('this machine has an NVIDIA driver: the GPU check (scripts/gpu-check.sh) covers it');
  const setup = spawnSync('bash', [join(root, 'scripts/setup-gpu.sh')], { encoding: 'utf8' });
  assert.equal(setup.status, 0, setup.stderr);
  const glibc = /^(libc|libm|libdl|librt|libpthread|libgcc_s|libstdc\+\+)\.so|^ld-linux/;
  const { needed } = readElfDynamic(join(onnxruntimeBindingDir(), 'libonnxruntime_providers_cuda.so'));
  const wanted = [...needed, ...CUDA_RUNTIME_LOADED_LIBRARIES].filter((l) => !glibc.test(l) && l !== 'libcuda.so.1');
  const libs = cudaLibsFromWheels(wanted);
  if ('skip' in libs) return t.skip(libs.skip);
  // A fresh process: the loader reads LD_LIBRARY_PATH once, at start.
  const probe = `
    import { findCudaProviderProblems } from './packages/graph/src/cuda/cuda-provider.ts';
    import { Session, Graph, serialize, add } from './packages/graph/src/index.ts';
    const g = new Graph(); const x = g.input('x', 'float32', [2]); g.output('y', add(x, 1));
    let session;
    try { await Session.create(serialize(g), { executionProvider: 'cuda' }); session = 'created'; }
    catch (e) { session = { name: e.name, code: e.code, message: e.message }; }
    console.log(JSON.stringify({ problems: findCudaProviderProblems(), session }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, LD_LIBRARY_PATH: libs.dir },
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.deepEqual(out.problems.map((p: { library: string; neededBy: string }) => [p.library, p.neededBy]), [['libcuda.so.1', 'libonnxruntime_providers_cuda.so']]);
  assert.match(out.problems[0].lookedIn, new RegExp(`LD_LIBRARY_PATH \\(${libs.dir}\\)`));
  assert.match(out.problems[0].remedy, /NVIDIA driver/);
  assert.equal(out.session.name, 'ExecutionProviderError');
  assert.equal(out.session.code, 'execution_provider_unavailable');
  assert.match(out.session.message, /not found in LD_LIBRARY_PATH \(.*\n +libcuda\.so\.1 \(needed by libonnxruntime_providers_cuda\.so\): .*NVIDIA driver/);
  assert.doesNotMatch(out.session.message, /libcublas|libcudnn|libcudart/);
});
