import type * as tf from '@tensorflow/tfjs-core';
import { expectShape } from '../errors.js';
import { kernelFor } from '../kernels.js';
import { causalAttentionComposite } from './causalAttentionComposite.js';
import { causalAttentionWasm } from './wasm/causalAttention.js';

export interface CausalAttentionOptions {
  /** Absolute position of query row 0; key s sits at position s. Prefill 0, decode S-1, chunk S-T. */
  readonly queryOffset: number;
}

/**
 * Scaled dot-product attention with a causal mask and grouped-query heads.
 * q: [T, nHeads, headDim], k and v: [S, nKvHeads, headDim] → [T, nHeads·headDim].
 * Query t (position queryOffset+t) sees key s iff s <= queryOffset+t; head h reads kv head
 * floor(h / (nHeads / nKvHeads)); scores are scaled by 1/sqrt(headDim); softmax in float32.
 */
export function causalAttention(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  opts: CausalAttentionOptions,
): tf.Tensor2D {
  checkShapes(q, k, v, opts);
  return kernelFor('RecurCausalAttention', { default: causalAttentionComposite, wasm: causalAttentionWasm })(
    q,
    k,
    v,
    opts,
  );
}

function checkShapes(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, opts: CausalAttentionOptions): void {
  const op = 'causalAttention';
  expectShape(
    q.rank === 3 && k.rank === 3 && v.rank === 3,
    op,
    () => `q [${q.shape}], k [${k.shape}], v [${v.shape}] must all be rank 3`,
  );
  expectShape(
    k.shape.join() === v.shape.join(),
    op,
    () => `k [${k.shape}] and v [${v.shape}] must have the same shape`,
  );
  const [, nHeads, headDim] = q.shape;
  const [, nKvHeads, kvHeadDim] = k.shape;
  expectShape(headDim === kvHeadDim, op, () => `q headDim ${headDim} differs from k/v headDim ${kvHeadDim}`);
  expectShape(
    nKvHeads > 0 && nHeads % nKvHeads === 0,
    op,
    () => `nHeads ${nHeads} is not a multiple of nKvHeads ${nKvHeads}`,
  );
  expectShape(
    Number.isInteger(opts.queryOffset) && opts.queryOffset >= 0,
    op,
    () => `queryOffset must be a non-negative integer, got ${opts.queryOffset}`,
  );
}
