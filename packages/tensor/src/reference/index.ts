/**
 * Plain TypedArray reference implementations of the tensor ops: row-major flat arrays, explicit
 * shapes, float64 arithmetic, no tfjs. Slow and obviously correct; tests compare the ops to these.
 */
export { refLinear, type LinearDims } from './linear.js';
export { refRmsNorm, type RmsNormDims } from './rmsNorm.js';
export { refApplyRope, type RopeDims } from './applyRope.js';
export { refCausalAttention, type AttentionDims } from './causalAttention.js';
export { refPositionalAttention, type PositionalAttentionDims } from './positionalAttention.js';
export { refSwiGluMlp, type RefSwiGluWeights, type SwiGluDims } from './swiGluMlp.js';
export { refCrossEntropy } from './crossEntropy.js';
export { refAttentionEntropy, type EntropyDims } from './attentionEntropy.js';
export {
  refApplyAttentionProbabilities,
  refAttentionMapSimilarity,
  refAttentionProbabilities,
  type AttentionMapDims,
} from './attentionMaps.js';
export { refAddVectors, refAttendVector, refMatVec, refRmsVector, refRopeVector } from './vector.js';
export { ropeInverseFrequencies, type RopeScaling, type RopeFrequencyOptions } from '../ropeFrequencies.js';
export { ShapeError } from '../errors.js';
