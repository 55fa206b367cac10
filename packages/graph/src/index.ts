export { ConfigError, validateDecoderConfig, type DecoderConfig } from './config.js';
export {
  decoderWeightSpecs,
  layerWeightSpecs,
  layerKey,
  parameterCount,
  type DecoderWeights,
  type WeightSpec,
} from './weights.js';
export { KvCache } from './kvCache.js';
export { echoOnlyLayers, echoSources, echoSourceSteps, validateEcho, type EchoReuse } from './echo.js';
export { decoderLayer, type LayerContext } from './layer.js';
export { Decoder, type DecoderOptions, type ForwardOptions } from './decoder.js';
export { adaptedModules, type AdaptedModule, type LayerAdapter, type NormName, type StepRows } from './adapter.js';
export { AdapterState, type CarriedState } from './adapterState.js';
export type { DerivedWeights } from './derivedWeights.js';
export { randomDecoder } from './init.js';
export { forwardFlops } from './flops.js';
export { executionOrder, executionSteps } from './config.js';
export type { LayerCall } from './layer.js';
export {
  depthFits,
  evenRoundedLinspace,
  loopedOrder,
  sharingStrategies,
  tiedGroups,
  tyingPlan,
  roundedLinspace,
  TyingError,
  type DepthFit,
  type LayerStep,
  type SharingStrategy,
  type TyingPlan,
} from './recursive/sharing.js';
export {
  initRecursiveWeights,
  initStrategies,
  makeSharedTensor,
  sharedLayerRecipes,
  type InitStrategy,
  type SharedTensorRecipe,
} from './recursive/init.js';
export {
  recursiveFromPretrained,
  recursivePlan,
  type RecursiveModelSpec,
  type RecursiveOptions,
} from './recursive/convert.js';
export { unrolledLayout, unrollRecursive, type UnrolledDecoder, type UnrolledLayout } from './recursive/unroll.js';
export {
  FastDecoder,
  type FastDepthOptions,
  type FastBatchEntry,
  type FastDecoderOptions,
  type FastForwardOptions,
} from './fast/fastDecoder.js';
export { FastKvCache, type FastKvLayout, type FastSlotLayout } from './fast/fastKvCache.js';
export type { FastDepthForwardOptions, FastDepthForwardResult } from './fast/fastDepthForward.js';
export { FastAdapters, type FastAdapterSource } from './fast/fastAdapters.js';
export type { FastDepthKvMode, FastDepthRow } from './fast/depthStep.js';
export { FastProfile, type FastPhase } from './fast/fastProfile.js';
export type { FastMatrix, PackedQuant } from './fast/quantWeights.js';
export { loopStructure, type LoopStructure } from './depth/loopStructure.js';
export { DepthKvCache, depthKvModes, type DepthKvMode } from './depth/depthKvCache.js';
export { blockSlot, exitCopies, kvSlotLayouts, type BlockSlot, type KvSlotLayout } from './depth/kvPlan.js';
export {
  expertDecision,
  rowRouter,
  routingUpdate,
  scalarRouterLogit,
  tokenDecision,
  validateDepthRouting,
  type DepthRouting,
  type DepthUpdate,
  type ExpertChoiceDescription,
  type RowChoice,
  type RowRouter,
  type ScalarRouterWeights,
  type TokenChoiceDescription,
} from './depth/depthRouting.js';
export type { AttentionCache } from './attentionCache.js';
export { EntropyRecorder, type StepEntropy } from './entropyRecorder.js';
export { AttentionMapRecorder } from './attentionMapRecorder.js';
