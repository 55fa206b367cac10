import { tf } from '@recur/tensor';
import { elementwiseGrads } from './elementwiseGrads.js';
import { matMulGrad } from './matMulGrad.js';
import { reductionGrads } from './reductionGrads.js';
import { shapeGrads } from './shapeGrads.js';

/**
 * Gradients of every tfjs kernel a decoder forward and its losses run. tfjs-core registers none by
 * itself (only the `@tensorflow/tfjs` bundle does, which drags in webgl, layers and converter), and
 * Node cannot load tfjs-core's own ESM gradient files, so training brings its own.
 */
export const trainingGradients: readonly tf.GradConfig[] = [
  ...elementwiseGrads,
  ...reductionGrads,
  ...shapeGrads,
  matMulGrad,
];

/** Registers the gradients above; a kernel that already has one (e.g. from the tfjs bundle) keeps it. Idempotent. */
export function registerGradients(): void {
  for (const config of trainingGradients) {
    if (tf.getGradient(config.kernelName) == null) tf.registerGradient(config);
  }
}
