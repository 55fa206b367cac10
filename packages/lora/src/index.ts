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
  checkDvptShape,
  dvptKey,
  dvptModuleCount,
  dvptModuleIndex,
  dvptShares,
  type DvptShape,
  type DvptShare,
} from './dvpt/config.js';
export { dvptUpdate, type DvptCarry, type DvptParams } from './dvpt/op.js';
export { dvptUpdateReference, type Matrix64 } from './dvpt/reference.js';
export { DvptModules, withDvpt } from './dvpt/modules.js';
export { freshDvpt } from './dvpt/fresh.js';
export { isLoraKind, loraKinds, type LoraKind } from './kinds.js';
export { defaultMosSettings, type MosSection, type MosSettings } from './mos/settings.js';
export { mosIndexKey, mosPoolKey, mosTensorPrefix } from './mos/keys.js';
export { mosModuleLayout, mosTablesFor, type MosModuleLayout, type MosTables } from './mos/layout.js';
export { loraDeltaReference, mosGather, mosGatherReference } from './mos/gather.js';
export { initMosLora, mosParameterCounts, mosTables, type MosInitOptions } from './mos/init.js';
export { MosLora } from './mos/mosLora.js';
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
export {
  generatedKind,
  isGeneratedLoraKey,
  loraKindFields,
  loraKindSpec,
  type GeneratedKind,
  type HyperSection,
  type LoraKindSpec,
} from './generatedKinds.js';
export { GeneratedLora } from './generatedLora.js';
export { initGeneratedLora, type GeneratedInitOptions } from './generatedInit.js';
export { fitGenerator } from './hyperFit.js';
export {
  hyperFactors,
  hyperFactorsReference,
  initHyperLora,
  loopEmbeddingKey,
  positionEmbeddingKey,
  generatorKey,
} from './hyperLora.js';
export { scaledFactors, scaledDeltaReference, initScaledLora, templateKey, loopScaleKey } from './scaledLora.js';
export type { Factors, KindInitOptions, ModuleShape } from './kindTypes.js';
