import { applyRope, causalAttention, rmsNorm, ropeInverseFrequencies, tf } from '@recur/tensor';
import { refApplyRope, refCausalAttention, refRmsNorm } from '@recur/tensor/reference';
import { batchedLora } from '@recur/tensor/webgpu';
import { values, type KernelCase } from './check.js';

function rmsNormCase(rows: number, dim: number): KernelCase {
  const x = values(rows * dim, 1 + dim);
  const w = values(dim, 2 + dim);
  return {
    kernel: 'rmsNorm',
    label: `[${rows}, ${dim}]`,
    tolerance: 1e-5,
    expectKernel: 'RecurRmsNormWebGpu',
    run: () => tf.tidy(() => rmsNorm(tf.tensor2d(x, [rows, dim]), tf.tensor1d(w), 1e-5)),
    reference: () => refRmsNorm(x, w, 1e-5, { rows, dim }),
  };
}

function ropeCase(tokens: number, heads: number, headDim: number, start: number): KernelCase {
  const x = values(tokens * heads * headDim, 3 + headDim);
  const positions = Int32Array.from({ length: tokens }, (_, i) => start + i);
  const invFreq = ropeInverseFrequencies({ headDim, theta: 10000, scaling: null });
  return {
    kernel: 'applyRope',
    label: `[${tokens}, ${heads}, ${headDim}] from position ${start}`,
    tolerance: 1e-5,
    expectKernel: 'RecurRopeWebGpu',
    run: () => tf.tidy(() => applyRope(tf.tensor3d(x, [tokens, heads, headDim]), positions, invFreq)),
    reference: () => refApplyRope(x, positions, invFreq, { tokens, heads, headDim }),
  };
}

function attentionCase(tokens: number, keys: number, heads: number, kvHeads: number, headDim: number): KernelCase {
  const q = values(tokens * heads * headDim, 5 + keys);
  const k = values(keys * kvHeads * headDim, 6 + keys);
  const v = values(keys * kvHeads * headDim, 7 + keys);
  const queryOffset = keys - tokens;
  return {
    kernel: 'causalAttention',
    label: `T=${tokens} over S=${keys}, ${heads}/${kvHeads} heads × ${headDim}`,
    tolerance: 1e-5,
    expectKernel: 'RecurAttentionWebGpu',
    run: () =>
      tf.tidy(() =>
        causalAttention(
          tf.tensor3d(q, [tokens, heads, headDim]),
          tf.tensor3d(k, [keys, kvHeads, headDim]),
          tf.tensor3d(v, [keys, kvHeads, headDim]),
          { queryOffset },
        ),
      ),
    reference: () => refCausalAttention(q, k, v, { tokens, keys, heads, kvHeads, headDim, queryOffset }),
  };
}

function loraCase(rows: number, inDim: number, rank: number, outDim: number, adapters: number): KernelCase {
  const x = values(rows * inDim, 11);
  const a = values(adapters * rank * inDim, 12);
  const b = values(adapters * outDim * rank, 13);
  const index = Int32Array.from({ length: rows }, (_, r) => (r * 7 + 1) % adapters);
  const scale = 2;
  return {
    kernel: 'batchedLora',
    label: `${rows} rows, ${adapters} adapters, [${outDim}×${rank}]·[${rank}×${inDim}]`,
    tolerance: 1e-4,
    expectKernel: 'RecurBatchedLoraWebGpu',
    run: () =>
      tf.tidy(() =>
        batchedLora(
          tf.tensor2d(x, [rows, inDim]),
          tf.tensor3d(a, [adapters, rank, inDim]),
          tf.tensor3d(b, [adapters, outDim, rank]),
          tf.tensor1d(index, 'int32'),
          scale,
        ),
      ),
    reference: () => refBatchedLora(x, a, b, index, scale, { rows, inDim, rank, outDim }),
  };
}

/** float64 reference: delta[r, o] = scale · Σ_j B[idx, o, j] · Σ_i A[idx, j, i] · x[r, i]. */
function refBatchedLora(
  x: Float32Array,
  a: Float32Array,
  b: Float32Array,
  index: Int32Array,
  scale: number,
  d: { rows: number; inDim: number; rank: number; outDim: number },
): Float64Array {
  const out = new Float64Array(d.rows * d.outDim);
  for (let r = 0; r < d.rows; r++) {
    const n = index[r]!;
    const u = new Float64Array(d.rank);
    for (let j = 0; j < d.rank; j++)
      for (let i = 0; i < d.inDim; i++) u[j]! += a[(n * d.rank + j) * d.inDim + i]! * x[r * d.inDim + i]!;
    for (let o = 0; o < d.outDim; o++) {
      let sum = 0;
      for (let j = 0; j < d.rank; j++) sum += b[(n * d.outDim + o) * d.rank + j]! * u[j]!;
      out[r * d.outDim + o] = scale * sum;
    }
  }
  return out;
}

/** The cases: stories260K's shapes (d 64, 8/4 heads × 8) and SmolLM-135M's (d 576, 9/3 heads × 64). */
export const kernelCases: readonly KernelCase[] = [
  rmsNormCase(5, 64),
  rmsNormCase(3, 576),
  ropeCase(7, 8, 8, 0),
  ropeCase(4, 9, 64, 1000),
  attentionCase(1, 37, 8, 4, 8),
  attentionCase(6, 6, 8, 4, 8),
  attentionCase(5, 12, 9, 3, 64),
  loraCase(6, 64, 8, 48, 3),
  loraCase(9, 576, 16, 192, 4),
];
