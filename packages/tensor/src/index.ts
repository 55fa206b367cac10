/** One tfjs-core instance for the whole workspace: other packages use this namespace, never their own copy. */
export * as tf from '@tensorflow/tfjs-core';

export {
  initBackend,
  activeBackend,
  wasmThreads,
  webGpuAdapter,
  type BackendName,
  type InitBackendOptions,
} from './backend.js';
export type { NodeWebGpuInfo } from './webgpu/node.js';
export { registerKernel, withBuiltinKernels, type KernelName, type RecurKernels } from './kernels.js';
export { ShapeError, WebGpuUnavailableError } from './errors.js';
export { ropeInverseFrequencies, type RopeScaling, type RopeFrequencyOptions } from './ropeFrequencies.js';

export { linear } from './ops/linear.js';
export { rmsNorm } from './ops/rmsNorm.js';
export { applyRope } from './ops/applyRope.js';
export { causalAttention, type CausalAttentionOptions } from './ops/causalAttention.js';
export { positionalAttention, type PositionalAttentionOptions } from './ops/positionalAttention.js';
export { swiGluMlp, type SwiGluWeights } from './ops/swiGluMlp.js';
export { crossEntropy } from './ops/crossEntropy.js';
export { attentionEntropy } from './ops/attentionEntropy.js';
export { applyAttentionProbabilities, attentionMapSimilarity, attentionProbabilities } from './ops/attentionMaps.js';
export { EXACT_SVD_LIMIT, truncatedSvd, type TruncatedSvd, type TruncatedSvdOptions } from './linalg/truncatedSvd.js';
export { jacobiSvd, type SvdResult } from './linalg/jacobiSvd.js';
export { gramSvd } from './linalg/gramSvd.js';
export { symmetricEigen, type SymmetricEigen } from './linalg/symmetricEigen.js';
export { qr } from './linalg/qr.js';
export { sharedPcaCka, type SharedPcaCka, type SharedPcaCkaOptions } from './linalg/sharedPcaCka.js';
export { gaussianArray } from './linalg/gaussian.js';
export { Mulberry32 } from './random.js';
export { FusedRuntime } from './fused/runtime.js';
export { FusedPool, type Segment } from './fused/pool.js';
export {
  AttnParams,
  LinearParams,
  RowInfo,
  TILE_SCORE_FLOATS,
  type KernelName as FusedKernelName,
} from './fused/kernels/index.js';
export { FusedOps, type AttentionJob, type EchoValuesJob, type LinearJob } from './fused/ops.js';
export { PANEL_MIN_ROWS, type QuantWeight } from './fused/quantLinear.js';
export { quantizeRowsQ8 } from './fused/quantizeActivations.js';
export { quantRowBytes, type QuantFormat } from './fused/kernels/index.js';
