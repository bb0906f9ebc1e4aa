import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readElfDynamic } from './elf-dynamic.ts';
import { tryLoadLibrary } from './native-library.ts';

/** The two files `npm run setup:gpu` places beside onnxruntime-node's binding (onnxruntime loads providers from there). */
export const CUDA_PROVIDER_LIBRARIES = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'] as const;

/**
 * Not in the CUDA provider's DT_NEEDED: onnxruntime dlopens these when a graph first needs them (cuDNN for
 * convolutions, NVRTC/cuFFT for some kernels). Checked at start so that a worker fails before it takes a job.
 */
export const CUDA_RUNTIME_LOADED_LIBRARIES = ['libcudnn.so.9', 'libcufft.so.12', 'libnvrtc.so.13'] as const;

/** Folder of onnxruntime-node's native binding and libonnxruntime.so for this platform. */
export function onnxruntimeBindingDir(): string {
  const main = createRequire(import.meta.url).resolve('onnxruntime-node');
  return join(dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

export interface CudaLibraryProblem {
  library: string;
  neededBy: string;
  /** where the loader (or we, for the provider files) looked, in words */
  lookedIn: string;
  /** what provides it */
  remedy: string;
}

function remedyFor(library: string): string {
  if (library.startsWith('libonnxruntime_providers_')) return 'run `npm run setup:gpu` (installs the CUDA provider for onnxruntime 1.29.0 from the npm registry)';
  if (library.startsWith('libcuda.so')) return "it is the NVIDIA driver's library: run on a machine with an NVIDIA driver (in a container, the NVIDIA container toolkit mounts it)";
  if (library.startsWith('libcudnn')) return 'install cuDNN 9 for CUDA 13 (the worker-gpu image has it), or put the lib folder of the nvidia-cudnn-cu13 wheel on LD_LIBRARY_PATH';
  return "install the CUDA 13 runtime libraries (the worker-gpu image has them), or put PyTorch's nvidia wheel folders (nvidia/cu13/lib) on LD_LIBRARY_PATH, as scripts/gpu-check.sh does";
}

function loaderSearch(runpath: string[]): string {
  const ld = process.env.LD_LIBRARY_PATH;
  return [
    `LD_LIBRARY_PATH (${ld ? ld : 'unset'})`,
    `the provider's RUNPATH (${runpath.length ? runpath.join(':') : 'none'})`,
    'the loader cache /etc/ld.so.cache (`ldconfig -p`)',
    'the system folders /lib, /usr/lib and their x86_64-linux-gnu subfolders',
  ].join(', ');
}

/**
 * Everything that keeps onnxruntime from loading its CUDA provider in this process, each library named with where
 * it was looked for. Empty when the provider and every CUDA library it needs load (a GPU may still be absent).
 */
export function findCudaProviderProblems(bindingDir: string = onnxruntimeBindingDir()): CudaLibraryProblem[] {
  const absent = CUDA_PROVIDER_LIBRARIES.filter((lib) => !existsSync(join(bindingDir, lib)));
  if (absent.length)
    return absent.map((library) => ({ library, neededBy: 'onnxruntime-node', lookedIn: bindingDir, remedy: remedyFor(library) }));
  const cudaProvider = join(bindingDir, 'libonnxruntime_providers_cuda.so');
  const { needed, runpath } = readElfDynamic(cudaProvider);
  const problems = new Map<string, CudaLibraryProblem>();
  for (const lib of [...needed, ...CUDA_RUNTIME_LOADED_LIBRARIES]) {
    const r = tryLoadLibrary(lib);
    if (r.loaded || problems.has(r.missing)) continue;
    const neededBy = r.missing === lib ? 'libonnxruntime_providers_cuda.so' : lib;
    problems.set(r.missing, { library: r.missing, neededBy, lookedIn: loaderSearch(runpath), remedy: remedyFor(r.missing) });
  }
  if (!problems.size) {
    // Every dependency loads on its own; the provider itself may still fail (a symbol version, a broken file).
    const r = tryLoadLibrary(cudaProvider);
    if (!r.loaded) problems.set(r.missing, { library: r.missing, neededBy: 'onnxruntime', lookedIn: bindingDir, remedy: r.message });
  }
  return [...problems.values()];
}

export function describeCudaProviderProblems(problems: CudaLibraryProblem[]): string {
  const lines = ["EXECUTION_PROVIDER is cuda, but onnxruntime's CUDA provider cannot be loaded (no fallback to CPU):"];
  for (const lookedIn of new Set(problems.map((p) => p.lookedIn))) {
    const here = problems.filter((p) => p.lookedIn === lookedIn);
    lines.push(`  not found in ${lookedIn}:`);
    for (const p of here) lines.push(`    ${p.library} (needed by ${p.neededBy}): ${p.remedy}`);
  }
  return lines.join('\n');
}
