import * as tf from '@tensorflow/tfjs-core';
import { expectShape } from '../errors.js';
import { kernelFor } from '../kernels.js';
import { causalMaskData, maskIsEmpty } from './causalMask.js';

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
export function causalAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, opts: CausalAttentionOptions): tf.Tensor2D {
  checkShapes(q, k, v, opts);
  return kernelFor('RecurCausalAttention', causalAttentionComposite)(q, k, v, opts);
}

function checkShapes(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, opts: CausalAttentionOptions): void {
  const op = 'causalAttention';
  expectShape(q.rank === 3 && k.rank === 3 && v.rank === 3, op, () => `q [${q.shape}], k [${k.shape}], v [${v.shape}] must all be rank 3`);
  expectShape(k.shape.join() === v.shape.join(), op, () => `k [${k.shape}] and v [${v.shape}] must have the same shape`);
  const [, nHeads, headDim] = q.shape;
  const [, nKvHeads, kvHeadDim] = k.shape;
  expectShape(headDim === kvHeadDim, op, () => `q headDim ${headDim} differs from k/v headDim ${kvHeadDim}`);
  expectShape(nKvHeads > 0 && nHeads % nKvHeads === 0, op, () => `nHeads ${nHeads} is not a multiple of nKvHeads ${nKvHeads}`);
  expectShape(Number.isInteger(opts.queryOffset) && opts.queryOffset >= 0, op, () => `queryOffset must be a non-negative integer, got ${opts.queryOffset}`);
}

function causalAttentionComposite(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, opts: CausalAttentionOptions): tf.Tensor2D {
  const [t, nHeads, headDim] = q.shape;
  const [s, nKvHeads] = k.shape;
  const group = nHeads / nKvHeads;
  return tf.tidy(() => {
    // Heads h = kv·group + j share kv head `kv`: stack each group's queries so one batched matMul
    // per kv head covers all of them, without repeating K/V.
    const scaled = tf.mul(q, 1 / Math.sqrt(headDim)); // [T, nHeads, headDim]; scaling q is cheaper than scaling scores
    const qg = tf.transpose(tf.reshape(scaled, [t, nKvHeads, group, headDim]), [1, 2, 0, 3]); // [nKvHeads, group, T, headDim]
    const kh = tf.transpose(k, [1, 0, 2]); // [nKvHeads, S, headDim]
    const vh = tf.transpose(v, [1, 0, 2]); // [nKvHeads, S, headDim]
    const scores: tf.Tensor3D = tf.matMul(tf.reshape(qg, [nKvHeads, group * t, headDim]), kh, false, true); // [nKvHeads, group·T, S]
    const probs = tf.softmax(maskScores(scores, { t, s, nKvHeads, group, queryOffset: opts.queryOffset })); // [nKvHeads, group·T, S]
    const out = tf.reshape(tf.matMul(probs, vh), [nKvHeads, group, t, headDim]); // [nKvHeads, group, T, headDim]
    return tf.reshape(tf.transpose(out, [2, 0, 1, 3]), [t, nHeads * headDim]); // [T, nHeads·headDim]
  });
}

interface MaskDims {
  readonly t: number;
  readonly s: number;
  readonly nKvHeads: number;
  readonly group: number;
  readonly queryOffset: number;
}

/** Adds the [T, S] causal mask to every (kv head, group member); skipped when nothing is hidden. */
function maskScores(scores: tf.Tensor3D, d: MaskDims): tf.Tensor3D {
  if (maskIsEmpty(d.s, d.queryOffset)) return scores;
  const mask = tf.tensor2d(causalMaskData(d.t, d.s, d.queryOffset), [d.t, d.s]); // [T, S]
  const masked = tf.add(tf.reshape(scores, [d.nKvHeads, d.group, d.t, d.s]), mask); // [nKvHeads, group, T, S]
  return tf.reshape(masked, [d.nKvHeads, d.group * d.t, d.s]);
}
