import { join } from 'node:path';
import { saveModel, Session, type Graph, type SessionOptions } from '@npo/graph';
import { linkWeights, WeightSource } from './weights.ts';

/**
 * A folder holding compiled graphs and (hard links to) the weights they read: onnxruntime only follows
 * external data inside the model's folder, so the weights must appear below it.
 */
export class ArtifactDir {
  /** `sessions`: defaults for every session compiled here (the execution provider, threads), one place to set them. */
  constructor(readonly dir: string, readonly sessions: SessionOptions = {}) {}

  /** Weights of `src` visible inside this folder, read by onnxruntime straight from the file. */
  weights(src: string, name: string): WeightSource {
    return WeightSource.fromSafetensors(linkWeights(src, join(this.dir, 'weights', name)));
  }

  async compile(graph: Graph, name: string, opts: SessionOptions = {}): Promise<{ session: Session; path: string; bytes: number }> {
    const saved = saveModel(graph, join(this.dir, `${name}.onnx`));
    const merged = { ...this.sessions, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
    return { session: await Session.create(saved.modelPath, merged), path: saved.modelPath, bytes: saved.bytes };
  }
}
