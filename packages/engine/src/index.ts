export { buildModel, disposeModel, type BuildOptions, type LoadedModel } from './model.js';
export { configSectionsOf, type ConfigSections } from './configSections.js';
export type { DepthwiseLora, HyperSection, LoraKindSpec, MosLora, MosSection } from '@recur/lora';
export {
  defaultMosSettings,
  isLoraKind,
  loraKindSpec,
  loraKinds,
  type LoraKind,
  type MosSettings,
} from '@recur/lora';
export { compositionMethods, type CompositionMethod, type CompositionSpec } from '@recur/lora';
export { withAdapters } from './adapters.js';
export { dvptExportRefusal, withDvptModules } from './dvpt.js';
export { dvptShares, type DvptShape, type DvptShare } from '@recur/lora';
export { checkRouterSection, hfConfigJson, type RecurSection, type RouterSection } from './recurConfig.js';
export { generate, trainedRouting, type GenerateOptions, type GenerateResult } from './generate.js';
export { evaluatePerplexity, perplexityWindows, type PerplexityOptions, type PerplexityResult } from './perplexity.js';
export { argmax, greedySampling, sampleToken, type SamplingOptions } from './sampling.js';
export {
  checkSampling,
  samplingRules,
  samplingRuleText,
  SamplingError,
  validateSampling,
  type SamplingField,
} from './samplingRules.js';
// Sampling's seeded generator: @recur/tensor's mulberry32, the one
// training data draws from too (one implementation, one state format).
export { Mulberry32 as SeededRandom } from '@recur/tensor';
export { decodeUtf8Prefix, TextStream } from './text.js';
export { modelPresets, presetDecoder } from './presets.js';
export type { AdaptedModule, Decoder, DepthKvMode, DepthRouting, FastDecoder } from '@recur/graph';
export { depthKvModes } from '@recur/graph';
export { benchmarkForward, type ForwardBenchOptions, type ForwardBenchResult } from './bench.js';
export type { RoutedBench } from './benchFast.js';
export { convertModel, type ConvertOptions, type ConvertedModel } from './convert.js';
export { conversionPlan, type Conversion } from './conversion/plan.js';
export type { ConversionSource, LazyTensor } from './conversion/options.js';
export { sourceRestrictedTo } from './restrictedSource.js';
export { convertMasa, type MasaConvertOptions, type MasaConvertedModel } from './masaConvert.js';
export { masaStoredParameters, type MasaModel, type MasaSection } from './masa.js';
export { parseMasaModules, type MasaModule } from '@recur/sharing';
export { sampleCorpus, SampleCorpusError, type SampleCorpusOptions, type SampledCorpus } from './sampleCorpus.js';
export { plainArrays, plainModel, type LoraExport, type PlainModel, type PlainTensors } from './export.js';
export { disposeFast, fastDecoderFor, tokenRunner, type FastChoice, type TokenRunner } from './fast.js';
export type { DistillationOptions, LrSchedule, TrainableSelection } from '@recur/train';
export {
  defaultKvMode,
  depthRouting,
  expertThresholds,
  exitRouting,
  parseExitRule,
  type ExitRule,
} from './depth/exitRule.js';
export { fusedLoops } from './depth/depthRunner.js';
export { depthRunner, type DepthRunner } from './depth/depthRunner.js';
export { evaluateDepths, type DepthEvaluation, type EvaluateDepthsOptions } from './depth/evaluateDepths.js';
export { routerAgreement } from './depth/routerAgreement.js';
export {
  calibrateRouterThresholds,
  withRouterThreshold,
  type CalibrateRouterOptions,
  type RouterThresholdChoice,
} from './depth/calibrateRouter.js';
export { keepFractions, type KeepFraction } from './depth/keepFractions.js';
export { forcedDepthRouting, routerPerLoop } from './depth/routerPerLoop.js';
export { createServingEngine } from './serve/servingEngine.js';
export { createDomainServingEngine, type DomainServingEngine } from './serve/domainEngine.js';
export { domainView, type DomainView } from './domainView.js';
export type { ContinueAfter, ServingEngineOptions } from './serve/options.js';
export type {
  ServeCallbacks,
  ServeFinishReason,
  ServeRequest,
  ServeResult,
  ServeSampling,
  ServeStats,
  ServingEngine,
} from './serve/types.js';
export type { ServingMode } from '@recur/scheduler';
export {
  earlyExitObjective,
  type EarlyExitObjectiveOptions,
  type EarlyExitTraining,
  type SelfDistillKind,
} from './depth/exitObjective.js';
export {
  morHeldOutLoss,
  morObjective,
  routedSequence,
  type MorObjectiveOptions,
  type MorTraining,
  type RoutedSequence,
} from './depth/morObjective.js';
export { withRouter, type MorModelOptions } from './depth/morModel.js';
export {
  diagnoseModel,
  type DiagnoseOptions,
  type DiagnoseResult,
  type DomainValues,
  type LayerDiagnostics,
  type StepDiagnostics,
  SIMILARITY_METRIC,
} from './diagnose/diagnose.js';
export {
  autoEchoPlan,
  DEFAULT_ECHO_THRESHOLD,
  EchoPlanError,
  echoPlanText,
  parseEchoPlan,
} from './echo/echoPlan.js';
export { echoDecoder, withEchoAttention, type EchoSection } from './echo/withEchoAttention.js';
export {
  INFLECTION_RANKING_TEXT,
  inflectionRanking,
  inflectionRuleText,
  inflectionSteps,
} from './diagnose/inflection.js';
export {
  diagnosticPass,
  weightGradient,
  windowGradients,
  windowLoss,
  type DiagnosticPass,
  type WindowGradients,
} from './diagnose/windowGradients.js';
export {
  inflectionTargets,
  loraLayerFilter,
  parseLoraLayers,
  rankedTargets,
  resolveLoraLayers,
  type LoraLayerSpec,
  type LoraTargets,
} from './diagnose/loraLayers.js';
export {
  IntervalRecorder,
  recordIntervals,
  type ActivationIntervals,
  type UnitInterval,
} from './intact/intervals.js';
export { intactRegularizer, type IntactRegularizer } from './intact/regularizer.js';
export { intactObjective, type IntactTraining } from './intact/runIntact.js';
export {
  DomainError,
  domainKey,
  endKeys,
  endLayers,
  parseEnds,
  withDomainEnds,
  type DomainState,
} from './domainEnds.js';
export type { DomainEndsSection } from './recurConfig.js';
export {
  gradientConflict,
  gradientCosine,
  layerGradients,
  type LayerConflict,
} from './diagnose/gradientConflict.js';
