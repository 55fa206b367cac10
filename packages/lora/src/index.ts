export { DepthwiseLora } from './depthwiseLora.js';
export {
  depthwiseLoraSpecs,
  depthwiseLoraStep,
  initDepthwiseLora,
  sharedSteps,
  LoraError,
  type ArrayTensor,
  type LoraInit,
  type LoraInitOptions,
  type NormMode,
  type TruncationEnergy,
} from './init.js';
export { loraKey, loopNormKey } from './keys.js';
export { rankFor, type LoraRanks } from './ranks.js';
export { mergeDepthwiseLora, mergedStepTensor } from './merge.js';
export { fromPeftAdapter, toPeftAdapter, type PeftAdapter, type PeftAdapterConfig } from './peft.js';
export { stackAdapters, sumLoras } from './compose.js';
export { freshLora, projectionShape, type FreshLoraOptions } from './fresh.js';
export {
  checkCoefficients,
  COMPOSE_PREFIX,
  composedDeltaReference,
  compositionMethods,
  freshCoefficients,
  GatedFusion,
  gateKey,
  isLinearComposition,
  scaledLora,
  ScaLearnAdapter,
  scaleKey,
  type CompositionMethod,
  type CompositionSpec,
  type GateActivation,
  type ReferenceMix,
  type ReferencePart,
} from './compose/index.js';
