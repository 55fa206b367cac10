import { layerKey, type AdaptedModule } from '@recur/graph';
import { gaussianArray, symmetricEigen, tf, truncatedSvd } from '@recur/tensor';
import { LoraError, type ArrayTensor } from './init.js';
import type { Factors, KindInitOptions, ModuleShape } from './kindTypes.js';

/**
 * Scaled LoRA after Polyhistor's layer-wise scaling kernels ("Polyhistor: Parameter-Efficient Multi-Task
 * Adaptation for Dense Vision Tasks", Liu et al., NeurIPS 2022, arXiv 2210.03265): one template kernel
 * shared across layers, each layer scaling it. Here one template LoRA (A, B) per block position and
 * module is shared by all loops, and loop k's delta is s_k·B·A — the parameter floor of per-loop relaxation.
 */

export const templateKey = (unique: number, module: AdaptedModule, factor: 'A' | 'B'): string =>
  `model.layers.${unique}.${module}.lora_${factor}.template.weight`;

/** The per-loop scales [loops] of one position's module. */
export const loopScaleKey = (unique: number, module: AdaptedModule): string =>
  `model.layers.${unique}.${module}.lora_scale.weight`;

const SCALED = /\.(lora_[AB]\.template|lora_scale)\.weight$/;
export const isScaledKey = (name: string): boolean => SCALED.test(name);

/** Loop `loop`'s factors: A = template A [r, in], B = s_loop · template B [out, r]. */
export function scaledFactors(
  tensors: ReadonlyMap<string, tf.Tensor>,
  unique: number,
  module: AdaptedModule,
  loop: number,
): Factors | undefined {
  const a = tensors.get(templateKey(unique, module, 'A')) as tf.Tensor2D | undefined; // [r, in]
  const b = tensors.get(templateKey(unique, module, 'B')) as tf.Tensor2D | undefined; // [out, r]
  const scales = tensors.get(loopScaleKey(unique, module)); // [loops]
  if (!a || !b || !scales || loop >= scales.shape[0]!) return undefined;
  return tf.tidy(() => ({ a: tf.clone(a), b: tf.mul(b, tf.slice(scales, [loop], [1])) as tf.Tensor2D }));
}

/** Float64 reference: loop `loop`'s delta s_loop·B·A [out, in] from a template A [r, in], B [out, r]. */
export function scaledDeltaReference(
  a: Float64Array,
  b: Float64Array,
  scales: Float64Array,
  loop: number,
  [outputs, r, inputs]: [number, number, number],
): Float64Array {
  const out = new Float64Array(outputs * inputs);
  for (let o = 0; o < outputs; o++)
    for (let i = 0; i < inputs; i++) {
      let sum = 0;
      for (let j = 0; j < r; j++) sum += b[o * r + j]! * a[j * inputs + i]!;
      out[o * inputs + i] = scales[loop]! * sum;
    }
  return out;
}

/**
 * Initial templates and scales. 'svd': with R_k = W_orig[source of loop k] − W_shared the residual of
 * loop k, the single matrix M minimising Σ_k ‖R_k − s_k·M‖² is M = Σ_k w_k R_k, w the top eigenvector of
 * the loops' Gram matrix ⟨R_k, R_l⟩ (tiny: loops × loops). The template is M's rank-r truncated SVD
 * (B = U·S, A = Vᵀ) and each loop's scale the least-squares fit of s·T to its own residual,
 * s_k = ⟨R_k, T⟩ / ⟨T, T⟩ with T = B·A. (The plain mean of the residuals would vanish under
 * `--init average`, where W_shared is their mean.) 'zero': A Gaussian (variance 1/in), B = 0, scales 1.
 */
export function initScaledLora(options: KindInitOptions, shapes: readonly ModuleShape[]): Map<string, ArrayTensor> {
  const out = new Map<string, ArrayTensor>();
  const positions = [...new Set(options.steps.map((s) => s.unique))].sort((x, y) => x - y);
  let seed = (options.seed ?? 0) * 10_007 + 1;
  for (const unique of positions) {
    const steps = options.steps.filter((s) => s.unique === unique);
    for (const { module, rows, cols, rank } of shapes) {
      if (rank === 0) continue;
      const scales = new Float32Array(options.loops).fill(1);
      let a: Float32Array = gaussianArray(rank * cols, seed++).map((v) => v / Math.sqrt(cols)); // [r, in]
      let b: Float32Array = new Float32Array(rows * rank); // [out, r]
      if (options.init === 'svd') {
        const residuals = steps.map((s) => residual(options, s.sourceLayer, unique, module));
        const principal = principalResidual(residuals);
        if (principal) ({ a, b } = truncatedFactors(principal, rows, cols, rank, options.seed ?? 0));
        const template = product(b, a, rows, rank, cols);
        const norm = dot(template, template);
        for (const [i, s] of steps.entries()) scales[s.loop] = norm > 0 ? dot(residuals[i]!, template) / norm : 1;
      }
      out.set(templateKey(unique, module, 'A'), { data: a, shape: [rank, cols] });
      out.set(templateKey(unique, module, 'B'), { data: b, shape: [rows, rank] });
      out.set(loopScaleKey(unique, module), { data: scales, shape: [options.loops] });
    }
  }
  return out;
}

function residual(options: KindInitOptions, sourceLayer: number, unique: number, module: AdaptedModule): Float32Array {
  const orig = options.source.get(layerKey(sourceLayer, `${module}.weight`));
  const shared = options.shared.get(layerKey(unique, `${module}.weight`));
  if (!orig || !shared)
    throw new LoraError(`no weight for ${module} of source layer ${sourceLayer} / shared layer ${unique}`);
  return orig.map((v, i) => v - shared[i]!);
}

/** Σ_k w_k R_k for the top eigenvector w of ⟨R_k, R_l⟩ (sign: Σ w ≥ 0); undefined when every residual is zero. */
function principalResidual(residuals: readonly Float32Array[]): Float32Array | undefined {
  const n = residuals.length;
  const gram = new Float64Array(n * n);
  for (let k = 0; k < n; k++) for (let l = 0; l < n; l++) gram[k * n + l] = dot(residuals[k]!, residuals[l]!);
  const { values, vectors } = symmetricEigen(gram, n);
  if (!(values[0]! > 0)) return undefined;
  const w = vectors[0]!;
  const sign = w.reduce((sum, x) => sum + x, 0) < 0 ? -1 : 1;
  const out = new Float32Array(residuals[0]!.length);
  for (const [k, r] of residuals.entries()) for (let i = 0; i < out.length; i++) out[i]! += sign * w[k]! * r[i]!;
  return out;
}

function truncatedFactors(
  matrix: Float32Array,
  rows: number,
  cols: number,
  rank: number,
  seed: number,
): { a: Float32Array; b: Float32Array } {
  const { u, s, v } = truncatedSvd(matrix, rows, cols, rank, { seed });
  const b = new Float32Array(rows * rank); // [out, r] = U·diag(S)
  for (let o = 0; o < rows; o++) for (let j = 0; j < rank; j++) b[o * rank + j] = u[o * rank + j]! * s[j]!;
  const a = new Float32Array(rank * cols); // [r, in] = Vᵀ
  for (let j = 0; j < rank; j++) for (let i = 0; i < cols; i++) a[j * cols + i] = v[i * rank + j]!;
  return { a, b };
}

/** B·A [rows, cols] in float64. */
function product(b: Float32Array, a: Float32Array, rows: number, rank: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let o = 0; o < rows; o++)
    for (let j = 0; j < rank; j++) {
      const bj = b[o * rank + j]!;
      for (let i = 0; i < cols; i++) out[o * cols + i]! += bj * a[j * cols + i]!;
    }
  return out;
}

function dot(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i]! * y[i]!;
  return sum;
}
