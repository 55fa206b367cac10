import type { AdaptedModule, LayerStep } from '@recur/graph';
import type { tf } from '@recur/tensor';

/** One step's LoRA factors: A [r, in], B [out, r]; the caller owns them. */
export interface Factors {
  readonly a: tf.Tensor2D;
  readonly b: tf.Tensor2D;
}

/** A module's [out, in] and its LoRA rank (0 = none). */
export interface ModuleShape {
  readonly module: AdaptedModule;
  readonly rows: number;
  readonly cols: number;
  readonly rank: number;
}

/** What a generated kind's initialisation sees. */
export interface KindInitOptions {
  /** The shared steps (those that get adapters). */
  readonly steps: readonly LayerStep[];
  readonly loops: number;
  /** Source and stored (shared) weights by checkpoint key: the residuals a kind may fit. */
  readonly source: ReadonlyMap<string, Float32Array>;
  readonly shared: ReadonlyMap<string, Float32Array>;
  /** 'svd' fits the residuals where the kind can; 'zero' starts at the tied model. */
  readonly init: 'svd' | 'zero';
  /** H of `--lora-kind hyper`. */
  readonly hyperDim: number;
  readonly seed?: number;
}
