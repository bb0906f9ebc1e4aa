// The trainer interface this worker calls (packages/trainer, @npo/trainer). The types are declared here so the
// training stage compiles and is tested before the trainer lands; the functions are loaded lazily so the worker
// still validates datasets and models (and tests still run) while @npo/trainer has no such exports.
export interface TrainHyperparameters { steps: number; batch_pairs: number; learning_rate: number; beta: number; lora_rank: number; lora_alpha: number; warmup_steps: number; lr_schedule: 'constant' | 'cosine'; max_grad_norm: number; resolution: number; checkpoint_every: number; seed: number }
export interface StepMetrics { step: number; total_steps: number; loss: number; implicit_acc: number; grad_norm: number; lr: number; step_ms: number; model_mse_w?: number; ref_mse_w?: number }
export interface CheckpointWritten { step: number; dir: string; files: string[]; final: boolean }

export interface TrainerApi {
  trainAdapter(opts: {
    modelDir: string; preparedDir: string; method: 'npo' | 'dpo'; hyperparameters: TrainHyperparameters; workDir: string;
    executionProvider?: 'cpu' | 'cuda'; resumeFromDir?: string; signal?: AbortSignal;
    onPhase?: (p: 'compiling' | 'training') => void | Promise<void>;
    onStep?: (m: StepMetrics) => void | Promise<void>;
    onCheckpoint?: (c: CheckpointWritten) => Promise<void>;
  }): Promise<{ finalAdapter: string | null; steps: number; cancelled: boolean }>;
  prepareForModel(opts: { modelDir: string; datasetFile: string; resolution: number; outDir: string; signal?: AbortSignal; onProgress?: (p: { pairs_done: number; pairs_total?: number }) => void }): Promise<{ preparedDir: string; pairs: number }>;
  validateModelFolder(dir: string): Promise<{ ok: boolean; errors: string[]; info: { pixelSpace: boolean; sampleSize: number; hasVae: boolean } }>;
  renderSampleGrid(opts: { modelDir: string; adapterPath: string; outFile: string; prompts?: string[]; seeds?: number[]; guidance?: number }): Promise<{ file: string }>;
}

const NAMES = ['trainAdapter', 'prepareForModel', 'validateModelFolder', 'renderSampleGrid'] as const;

/** The real trainer from @npo/trainer, or null while it does not export the interface yet. */
export async function loadTrainer(): Promise<TrainerApi | null> {
  try {
    const mod = (await import('@npo/trainer')) as Record<string, unknown>;
    return NAMES.every((n) => typeof mod[n] === 'function') ? (mod as unknown as TrainerApi) : null;
  } catch {
    return null;
  }
}

export async function trainerAvailable(): Promise<boolean> {
  return (await loadTrainer()) !== null;
}
