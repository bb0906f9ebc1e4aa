import { DatasetError } from './errors.ts';
import { numel, Rng } from '@npo/graph';
import { TIME_IDS } from '../unet/config.ts';
import { readManifest, readShard, readUncond, readUncondPooled, type PreparedManifest, type ShardAdded, type ShardTensors } from './shards.ts';

/**
 * Reads a prepared dataset as an endless stream of shuffled batches.
 *
 * Order: each epoch visits the shards in a seeded random order, a window of `windowShards` consecutive shards at a
 * time; the pairs of a window are loaded (read sequentially, shard by shard) and emitted in a seeded random order.
 * Batches run across window and epoch boundaries. The permutations are drawn from generators derived from
 * (seed, epoch) and (seed, epoch, window), so the state that fixes everything still to come is just
 * `{seed, epoch, window, offset}` — position plus RNG state — and `setState` resumes exactly, after a restart too.
 */

/** An independent generator per (seed, epoch, window): the data order is a pure function of position. */
function streamOf(seed: number, epoch: number, window: number): Rng {
  return new Rng(seed, (BigInt(epoch) << 32n) | BigInt(window >>> 0));
}

export interface ShardReaderOptions {
  batchSize: number;
  seed: number;
  /** Shards shuffled together (the shuffle buffer, in shards). Default 4. */
  windowShards?: number;
}

export interface ShardReaderState {
  version: 1;
  seed: number;
  epoch: number;
  /** Window within the epoch. */
  window: number;
  /** Pairs of that window already emitted. */
  offset: number;
}

export interface PairBatch {
  /** [N, C, h, w] */
  chosen: Float32Array;
  rejected: Float32Array;
  /** [N, T, D] */
  embeds: Float32Array;
  /** text_time (SDXL) datasets: pooled embeddings [N, P] and each image's time ids [N, 6]. */
  added?: ShardAdded;
  /** Where each pair came from (shard number and row in it), for debugging and tests. */
  sources: { shard: number; row: number }[];
  /** Epoch of the batch's first pair. */
  epoch: number;
}

interface LoadedWindow {
  epoch: number;
  window: number;
  /** pair k of the window → [shard number, row]. */
  order: [number, number][];
  shards: Map<number, ShardTensors>;
}

export class ShardReader {
  readonly manifest: PreparedManifest;
  readonly uncond: Float32Array;
  /** The empty prompt's pooled embedding (text_time datasets). */
  readonly uncondPooled: Float32Array | undefined;
  private readonly windowShards: number;
  private state: ShardReaderState;
  private loaded?: LoadedWindow;

  constructor(readonly dir: string, readonly opts: ShardReaderOptions) {
    this.manifest = readManifest(dir);
    if (this.manifest.total_pairs <= 0) throw new DatasetError('shards_corrupt', `${dir} holds no pairs`);
    if (!(opts.batchSize >= 1)) throw new Error(`batchSize must be at least 1, got ${opts.batchSize}`);
    this.uncond = readUncond(dir, this.manifest);
    this.uncondPooled = readUncondPooled(dir, this.manifest);
    this.windowShards = Math.max(1, opts.windowShards ?? 4);
    this.state = { version: 1, seed: opts.seed >>> 0, epoch: 0, window: 0, offset: 0 };
  }

  getState(): ShardReaderState {
    return { ...this.state };
  }

  setState(state: ShardReaderState): void {
    if (state.version !== 1) throw new Error(`unknown ShardReader state version ${state.version}`);
    this.state = { ...state };
    this.loaded = undefined;
  }

  private shardOrder(epoch: number): number[] {
    const ids = this.manifest.shards.map((_, i) => i);
    return streamOf(this.state.seed, epoch, 0xffffffff).shuffle(ids);
  }

  private windowCount(): number {
    return Math.ceil(this.manifest.shards.length / this.windowShards);
  }

  private load(epoch: number, window: number): LoadedWindow {
    if (this.loaded && this.loaded.epoch === epoch && this.loaded.window === window) return this.loaded;
    const ids = this.shardOrder(epoch).slice(window * this.windowShards, (window + 1) * this.windowShards);
    const shards = new Map<number, ShardTensors>();
    const order: [number, number][] = [];
    for (const id of ids) {
      const entry = this.manifest.shards[id];
      shards.set(id, readShard(this.dir, entry, this.manifest));
      for (let r = 0; r < entry.pairs; r++) order.push([id, r]);
    }
    streamOf(this.state.seed, epoch, window).shuffle(order);
    this.loaded = { epoch, window, order, shards };
    return this.loaded;
  }

  nextBatch(): PairBatch {
    const N = this.opts.batchSize;
    const L = numel(this.manifest.latent_shape);
    const E = numel(this.manifest.embed_shape);
    const batch: PairBatch = {
      chosen: new Float32Array(N * L),
      rejected: new Float32Array(N * L),
      embeds: new Float32Array(N * E),
      sources: [],
      epoch: this.state.epoch,
    };
    const P = this.manifest.pooled_width ?? 0;
    if (P) batch.added = { pooled: new Float32Array(N * P), chosenTimeIds: new Float32Array(N * TIME_IDS), rejectedTimeIds: new Float32Array(N * TIME_IDS) };
    for (let k = 0; k < N; k++) {
      let win = this.load(this.state.epoch, this.state.window);
      while (this.state.offset >= win.order.length) {
        this.state.offset = 0;
        if (++this.state.window >= this.windowCount()) {
          this.state.window = 0;
          this.state.epoch++;
        }
        win = this.load(this.state.epoch, this.state.window);
      }
      if (k === 0) batch.epoch = this.state.epoch;
      const [id, row] = win.order[this.state.offset++];
      const shard = win.shards.get(id)!;
      batch.chosen.set(shard.chosen.subarray(row * L, (row + 1) * L), k * L);
      batch.rejected.set(shard.rejected.subarray(row * L, (row + 1) * L), k * L);
      batch.embeds.set(shard.embeds.subarray(row * E, (row + 1) * E), k * E);
      if (batch.added) {
        const from = shard.added!;
        batch.added.pooled.set(from.pooled.subarray(row * P, (row + 1) * P), k * P);
        batch.added.chosenTimeIds.set(from.chosenTimeIds.subarray(row * TIME_IDS, (row + 1) * TIME_IDS), k * TIME_IDS);
        batch.added.rejectedTimeIds.set(from.rejectedTimeIds.subarray(row * TIME_IDS, (row + 1) * TIME_IDS), k * TIME_IDS);
      }
      batch.sources.push({ shard: id, row });
    }
    return batch;
  }

  *[Symbol.iterator](): Iterator<PairBatch> {
    for (;;) yield this.nextBatch();
  }
}
