import * as tf from '@tensorflow/tfjs-core';
import { expectShape } from '../errors.js';
import { kernelFor } from '../kernels.js';

/**
 * Rotary embedding, rotate-half convention (HF Llama): out = x·cos + rotate_half(x)·sin with
 * rotate_half(x) = concat(-x2, x1) and angle[t, i] = positions[t] · invFreq[i].
 * x: [T, nHeads, headDim], positions: [T], invFreq: [headDim/2] → [T, nHeads, headDim].
 */
export function applyRope(x: tf.Tensor3D, positions: Int32Array, invFreq: Float32Array): tf.Tensor3D {
  expectShape(x.rank === 3, 'applyRope', () => `x must be [T, nHeads, headDim], got [${x.shape}]`);
  const [t, , headDim] = x.shape;
  expectShape(
    positions.length === t,
    'applyRope',
    () => `positions has ${positions.length} entries but x [${x.shape}] has ${t} rows`,
  );
  expectShape(
    invFreq.length * 2 === headDim,
    'applyRope',
    () => `invFreq has ${invFreq.length} entries but headDim ${headDim} needs ${headDim / 2}`,
  );
  return kernelFor('RecurApplyRope', { default: applyRopeComposite })(x, positions, invFreq);
}

function applyRopeComposite(x: tf.Tensor3D, positions: Int32Array, invFreq: Float32Array): tf.Tensor3D {
  const [t, , headDim] = x.shape;
  const { cos, sinSigned } = ropeTables(positions, invFreq);
  return tf.tidy(() => {
    // rotate_half(x)·sin == concat(x2, x1)·[-sin, sin]: the sign lives in the table. (split+concat
    // measured 4× faster than a gather with a permutation index on wasm.)
    const [x1, x2] = tf.split(x, 2, 2); // 2 × [T, nHeads, headDim/2]
    const swapped = tf.concat([x2 as tf.Tensor3D, x1 as tf.Tensor3D], 2); // [T, nHeads, headDim]
    const cosT = tf.tensor3d(cos, [t, 1, headDim]); // [T, 1, headDim], broadcast over heads
    const sinT = tf.tensor3d(sinSigned, [t, 1, headDim]); // [T, 1, headDim]
    return tf.add(tf.mul(x, cosT), tf.mul(swapped, sinT));
  });
}

/**
 * cos and sign-folded sin per (row, channel), both halves of the head filled: [T, headDim] each.
 * Angles are formed in float64 so large positions keep their precision.
 */
function ropeTables(positions: Int32Array, invFreq: Float32Array): { cos: Float32Array; sinSigned: Float32Array } {
  const half = invFreq.length;
  const headDim = 2 * half;
  const cos = new Float32Array(positions.length * headDim); // [T, headDim]
  const sinSigned = new Float32Array(positions.length * headDim); // [T, headDim]
  positions.forEach((pos, row) => {
    for (let i = 0; i < half; i++) {
      const angle = pos * (invFreq[i] ?? 0);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[row * headDim + i] = c;
      cos[row * headDim + half + i] = c;
      sinSigned[row * headDim + i] = -s;
      sinSigned[row * headDim + half + i] = s;
    }
  });
  return { cos, sinSigned };
}
