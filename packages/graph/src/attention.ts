import type { DType } from './dtype.ts';
import type { RegionBackward, Value } from './graph.ts';
import { add, cast, concat, matmul, mul, reduceSum, slice, softmax, sub, swapLastAxes } from './ops.ts';

export interface AttentionOptions {
  /** Multiplies q·kᵀ (1/√d for scaled dot-product attention). */
  scale: number;
  /** Added to the scores; broadcastable to [B, H, N, M]. */
  mask?: Value | null;
  /**
   * Most score elements (B·H·rows·M) one query chunk may hold. Above it the queries are split into chunks, and every
   * chunk whose map exceeds `checkpointElements` is an activation-checkpoint region: the backward recomputes its
   * scores and probabilities from q, k and v instead of keeping [B, H, N, M] maps from the forward.
   */
  chunkElements?: number;
  /** Most query rows one chunk may hold (whichever of the two limits is smaller). */
  chunkRows?: number;
  checkpointElements?: number;
  /**
   * Mixed precision: the two matmuls in this dtype (float16/bfloat16), q pre-scaled before q·kᵀ so the scores stay in
   * range; the scores, the mask, the softmax and the result in q's dtype (float32). Default: q's dtype throughout.
   */
  compute?: DType;
}

/** 2²⁴ elements: a 64 MiB float32 score map per chunk (the 4,096-token level of SD1.5 at 512 px: 256 query rows, 2 samples, 8 heads). */
export const DEFAULT_ATTENTION_CHUNK_ELEMENTS = 1 << 24;
/**
 * A recomputed chunk's backward holds three of its maps at once (p, dp, dp − D), so shorter sequences are chunked
 * too: sd15s's 1,024-token attention (2 samples, 8 heads) in 4 chunks of 256 rows instead of one took that step's
 * peak RSS from 917 to 740–776 MB at the same step time. Fewer rows cost time: 64-row chunks made SD1.5's 4,096-token
 * attention (forward and backward) 15 % slower than 256-row ones (bench/README.md).
 */
export const DEFAULT_ATTENTION_CHUNK_ROWS = 256;
/** Maps of 1 MiB and less are cheaper to keep than to recompute. */
export const DEFAULT_ATTENTION_CHECKPOINT_ELEMENTS = 1 << 18;

/**
 * softmax(q·kT·scale + mask)·v for q [B, H, N, d], kT [B, H, d, M] (keys already transposed) and v [B, H, M, d].
 * Exact: chunking splits independent query rows, and a checkpointed chunk's backward re-emits the same nodes.
 */
export function scaledDotProductAttention(q: Value, kT: Value, v: Value, o: AttentionOptions): Value {
  const [b, h, n] = q.shape;
  const m = kT.shape[3];
  const chunkElements = o.chunkElements ?? DEFAULT_ATTENTION_CHUNK_ELEMENTS;
  const checkpointElements = o.checkpointElements ?? DEFAULT_ATTENTION_CHECKPOINT_ELEMENTS;
  const rows = Math.max(1, Math.min(n, o.chunkRows ?? DEFAULT_ATTENTION_CHUNK_ROWS, Math.floor(chunkElements / (b * h * m))));
  const mask = o.mask ?? null;
  const low = o.compute && o.compute !== q.dtype ? o.compute : null;
  const kTLow = low && cast(kT, low);
  const vLow = low && cast(v, low);
  const block = (qc: Value, maskc: Value | null) => {
    if (low) {
      const scores = cast(matmul(mul(cast(qc, low), o.scale), kTLow!), q.dtype);
      const probs = softmax(maskc ? add(scores, maskc) : scores, -1);
      return cast(matmul(cast(probs, low), vLow!), q.dtype);
    }
    return matmul(probabilities(qc, kT, maskc, o.scale), v);
  };
  const out: Value[] = [];
  for (let s = 0; s < n; s += rows) {
    const e = Math.min(n, s + rows);
    const qc = e - s === n ? q : slice(q, [2], [s], [e]);
    // a mask with a row per query is sliced with the queries; one broadcast over rows is shared
    const maskc = mask && mask.rank >= 2 && mask.shape[mask.rank - 2] === n && e - s < n ? slice(mask, [mask.rank - 2], [s], [e]) : mask;
    const keep = b * h * (e - s) * m <= checkpointElements;
    if (keep) out.push(block(qc, maskc));
    // mixed precision re-emits the chunk's own nodes (their casts) instead of the float32 backward below
    else if (low) out.push(q.graph.checkpoint(() => block(qc, maskc)));
    else out.push(q.graph.checkpoint(() => block(qc, maskc), { reads: maskc ? [qc, kT, v, maskc] : [qc, kT, v], backward: chunkBackward(o.scale) }));
  }
  return concat(out, 2);
}

/** softmax(q·kᵀ·scale + mask) in q's dtype: the forward's and a checkpointed chunk's recomputation alike. */
const probabilities = (q: Value, kT: Value, mask: Value | null, scale: number) => {
  const scores = mul(matmul(q, kT), scale);
  return softmax(mask ? add(scores, mask) : scores, -1);
};

/**
 * A checkpointed chunk's backward, as FlashAttention's: the probabilities p are recomputed from q and kᵀ, and the
 * softmax backward's rowsum(dp ⊙ p) is taken as rowsum(do ⊙ o) — over d columns of the kept output instead of M
 * columns of a recomputed map (equal: rowsum(dp ⊙ p) = Σⱼ pᵢⱼ Σₑ doᵢₑ vⱼₑ = Σₑ doᵢₑ oᵢₑ). That is one full-size
 * product and one full-size reduction fewer per chunk than the softmax rule. The scale multiplies d-sized results.
 */
function chunkBackward(scale: number): RegionBackward {
  return ([q, kT, v, mask], o, dO) => {
    const p = probabilities(q, kT, mask ?? null, scale);
    const dV = matmul(swapLastAxes(p), dO);
    const dP = matmul(dO, swapLastAxes(v));
    const dScores = mul(p, sub(dP, reduceSum(mul(dO, o), [-1], true)));
    return [mul(matmul(dScores, swapLastAxes(kT)), scale), mul(matmul(swapLastAxes(q), dScores), scale), dV, mask ? dScores : null];
  };
}
