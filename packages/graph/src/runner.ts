import * as ort from 'onnxruntime-node';
import { DTYPES, type DType, type HostTensor } from './dtype.ts';
import { describeCudaProviderProblems, findCudaProviderProblems } from './cuda/cuda-provider.ts';
import { ExecutionProviderError, type ExecutionProvider } from './execution-provider.ts';

export interface SessionOptions {
  executionProvider?: ExecutionProvider;
  /** intra-op threads: the setting that matters on CPU. */
  threads?: number;
  /**
   * Default 'extended' on CPU, 'all' elsewhere. 'all' adds the CPU's NCHWc layout, which keeps a reordered copy of
   * every conv weight beside the original that the backward's ConvTranspose still reads: +2.4 GB resident for an
   * SD1.5 training step at no gain in step time (bench/README.md).
   */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

// onnxruntime spells every DType the same way ('float32', 'int64', 'bool', …); bfloat16 is compute-only (dtype.ts).
function toOrt(t: HostTensor): ort.Tensor {
  if (t.dtype === 'bfloat16') throw new Error('bfloat16 tensors are internal to a graph: feed float32 (or float16) and cast in-graph');
  return new ort.Tensor(t.dtype, t.data as never, t.shape);
}

function fromOrt(t: ort.Tensor): HostTensor {
  if (!Object.hasOwn(DTYPES, t.type)) throw new Error(`unsupported output type ${t.type}`);
  const dtype = t.type as DType;
  const data = t.data as HostTensor['data'];
  return { dtype, shape: [...t.dims], data: dtype === 'bool' ? new Uint8Array(data as unknown as ArrayLike<number>) : data };
}

/** A compiled graph loaded into onnxruntime-node: feed named host tensors, read named outputs. */
export class Session {
  private constructor(private readonly session: ort.InferenceSession, readonly provider: ExecutionProvider) {}

  static async create(model: string | Uint8Array, opts: SessionOptions = {}): Promise<Session> {
    const provider = opts.executionProvider ?? 'cpu';
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: [provider],
      graphOptimizationLevel: opts.optimization ?? (provider === 'cpu' ? 'extended' : 'all'),
      // Keep weights file-backed instead of repacked copies: much faster creation, less memory for large models.
      extra: { session: { disable_prepacking: '1' } },
      // The memory-pattern planner preallocates for the whole training graph at once: 1.7× PyTorch's peak RSS on
      // an SD1.5-shaped step, against 1.04× without it, at the same step time (bench/README.md).
      enableMemPattern: false,
    };
    if (opts.threads) options.intraOpNumThreads = opts.threads;
    try {
      // Two calls because onnxruntime's typings overload create() separately for a path and for bytes.
      const s = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
      return new Session(s, provider);
    } catch (e) {
      if (provider === 'cuda') {
        // onnxruntime-node says only "Failed to load shared library" (the library's name goes to its log), so
        // find out here which library is missing and where the loader looked.
        const problems = findCudaProviderProblems();
        if (problems.length) throw new ExecutionProviderError(describeCudaProviderProblems(problems));
        const msg = (e as Error).message ?? String(e);
        if (/cuda|provider|shared library|\.so/i.test(msg))
          throw new ExecutionProviderError(`the CUDA execution provider failed to start: ${msg.split('\n')[0]} (no fallback to CPU)`);
      }
      throw e;
    }
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  async run(feeds: Record<string, HostTensor>, outputs?: string[]): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrt(v);
    const res = outputs ? await this.session.run(ortFeeds, outputs) : await this.session.run(ortFeeds);
    const out: Record<string, HostTensor> = {};
    for (const [k, v] of Object.entries(res)) out[k] = fromOrt(v as ort.Tensor);
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

