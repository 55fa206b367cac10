import type { tf } from '@recur/tensor';

/**
 * Weights a decoder computes from other parameters at every use instead of storing them, e.g. MASA
 * matrix atoms (in @recur/sharing) while training: each layer's matrix is rebuilt from the shared
 * atoms inside the caller's tidy, so autodiff reaches the atoms. The graph never imports the package
 * that implements it, as with `LayerAdapter`.
 */
export interface DerivedWeights {
  /** The checkpoint keys this source computes; the decoder's own weight map does not hold them. */
  readonly keys: ReadonlySet<string>;
  /** The weight stored under `key` (shape as `decoderWeightSpecs` says), computed now; the caller's tidy owns it. */
  weight(key: string): tf.Tensor;
}
