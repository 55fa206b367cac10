import * as tf from '@tensorflow/tfjs-core';
import { expectShape } from '../errors.js';
import { groupQueries, ungroupOutput } from './attentionLayout.js';
import { MASKED_SCORE } from './causalMask.js';

export interface PositionalAttentionOptions {
  /** Absolute position of each of the T query rows. */
  readonly queryPositions: ArrayLike<number>;
  /** Absolute position of each of the S key/value rows (any order; gaps allowed). */
  readonly keyPositions: ArrayLike<number>;
}

/**
 * Causal attention over keys that carry their own positions: query t sees key s iff
 * keyPositions[s] <= queryPositions[t]. What per-token depth needs, where a recursion's cache holds
 * only the tokens that ran it (Mixture-of-Recursions' recursion-wise caching) and its queries are a
 * subset of the sequence. q: [T, nHeads, headDim], k and v: [S, nKvHeads, headDim] → [T, nHeads·headDim].
 * Built from tfjs-core ops, so it runs (and differentiates) on every backend.
 */
export function positionalAttention(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  opts: PositionalAttentionOptions,
): tf.Tensor2D {
  const mask = positionalMask(q, k, v, opts);
  return tf.tidy(() => {
    const [t, s] = [q.shape[0], k.shape[0]];
    const qg = groupQueries(q, k.shape[1]); // [nKvHeads, group·T, headDim]
    const kh = tf.transpose(k, [1, 0, 2]); // [nKvHeads, S, headDim]
    const vh = tf.transpose(v, [1, 0, 2]); // [nKvHeads, S, headDim]
    const scores = tf.matMul(qg, kh, false, true); // [nKvHeads, group·T, S]
    const rows = (scores.shape[0] ?? 0) * ((scores.shape[1] ?? 0) / t);
    // [nKvHeads, group·T, S]
    const masked = tf.reshape(tf.add(tf.reshape(scores, [rows, t, s]), tf.tensor2d(mask, [t, s])), scores.shape);
    return ungroupOutput(tf.matMul(tf.softmax(masked), vh), t); // [T, nHeads·headDim]
  });
}

/** Validates shapes and positions; the additive mask [T, S] (0 visible, MASKED_SCORE hidden). */
function positionalMask(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  opts: PositionalAttentionOptions,
): Float32Array {
  const op = 'positionalAttention';
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
  expectShape(
    q.shape[2] === k.shape[2] && q.shape[1] % k.shape[1] === 0,
    op,
    () => `q [${q.shape}] does not fit k/v [${k.shape}] (headDim, heads multiple of kv heads)`,
  );
  const [t, s] = [q.shape[0], k.shape[0]];
  expectShape(
    opts.queryPositions.length === t,
    op,
    () => `${opts.queryPositions.length} query positions for ${t} query rows`,
  );
  expectShape(opts.keyPositions.length === s, op, () => `${opts.keyPositions.length} key positions for ${s} key rows`);
  const mask = new Float32Array(t * s); // [T, S]
  for (let i = 0; i < t; i++) {
    const at = opts.queryPositions[i]!;
    let visible = 0;
    for (let j = 0; j < s; j++) {
      if (opts.keyPositions[j]! <= at) visible++;
      else mask[i * s + j] = MASKED_SCORE;
    }
    expectShape(
      visible > 0,
      op,
      () => `query at position ${at} sees no key (key positions [${Array.from(opts.keyPositions).join(', ')}])`,
    );
  }
  return mask;
}
