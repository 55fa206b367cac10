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
  loraKinds,
  generatedKind,
  isGeneratedLoraKey,
  type LoraKind,
  type LoraKindSpec,
  type GeneratedKind,
} from './kinds.js';
export { GeneratedLora } from './generatedLora.js';
export { initGeneratedLora, type GeneratedInitOptions } from './generatedInit.js';
export {
  hyperFactors,
  hyperFactorsReference,
  initHyperLora,
  loopEmbeddingKey,
  positionEmbeddingKey,
  generatorKey,
} from './hyperLora.js';
export { scaledFactors, scaledDeltaReference, initScaledLora, templateKey, scaleKey } from './scaledLora.js';
export type { Factors, KindInitOptions, ModuleShape } from './kindTypes.js';
