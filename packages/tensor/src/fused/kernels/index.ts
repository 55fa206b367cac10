export { KERNEL_NAMES, fusedModuleBytes, relaxedSimdProbe, type KernelName } from './module.js';
export {
  AttnParams,
  KvWrite,
  LinearParams,
  NormParams,
  RopeParams,
  RowInfo,
  SiluParams,
  type KernelFn,
} from './params.js';
export { linearTiledVariant, tileFor } from './linearTiled.js';
export { DequantParams, QuantLinearParams, QuantizeParams, quantRowBytes, type QuantFormat } from './quantParams.js';
export { TILE_ROWS, TILE_SCORE_FLOATS } from './attentionTiled.js';
export { QUANT_TILE_ROWS } from './quantBlockDots.js';
