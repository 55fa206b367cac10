export { buildModel, type BuildOptions, type LoadedModel } from './model.js';
export { generate, type GenerateOptions, type GenerateResult } from './generate.js';
export { evaluatePerplexity, type PerplexityOptions, type PerplexityResult } from './perplexity.js';
export { argmax, greedySampling, sampleToken, type SamplingOptions } from './sampling.js';
export { SeededRandom } from './random.js';
export { decodeUtf8Prefix, TextStream } from './text.js';
export { modelPresets, presetDecoder } from './presets.js';
export type { Decoder } from '@recur/graph';
export { benchmarkForward, type ForwardBenchOptions, type ForwardBenchResult } from './bench.js';
