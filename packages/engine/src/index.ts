export { buildModel, disposeModel, type BuildOptions, type LoadedModel } from './model.js';
export { hfConfigJson, type RecurSection, type RouterSection } from './recurConfig.js';
export { generate, type GenerateOptions, type GenerateResult } from './generate.js';
export { evaluatePerplexity, perplexityWindows, type PerplexityOptions, type PerplexityResult } from './perplexity.js';
export { argmax, greedySampling, sampleToken, type SamplingOptions } from './sampling.js';
// Sampling's seeded generator is the training data's mulberry32 (one implementation, one state format).
export { Mulberry32 as SeededRandom } from '@recur/train';
export { decodeUtf8Prefix, TextStream } from './text.js';
export { modelPresets, presetDecoder } from './presets.js';
export type { Decoder, DepthKvMode } from '@recur/graph';
export { depthKvModes } from '@recur/graph';
export { benchmarkForward, type ForwardBenchOptions, type ForwardBenchResult } from './bench.js';
export { convertModel, type ConvertOptions, type ConvertedModel } from './convert.js';
export { plainModel, type LoraExport, type PlainModel } from './export.js';
export { disposeFast, fastDecoderFor, tokenRunner, type FastChoice, type TokenRunner } from './fast.js';
export type { DistillationOptions, LrSchedule, TrainableSelection } from '@recur/train';
export { defaultKvMode, exitRouting, parseExitRule, type ExitRule } from './depth/exitRule.js';
export { depthRunner, type DepthRunner } from './depth/depthRunner.js';
export { evaluateDepths, type DepthEvaluation, type EvaluateDepthsOptions } from './depth/evaluateDepths.js';
