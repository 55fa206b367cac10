export { ConfigError, validateDecoderConfig, type DecoderConfig } from './config.js';
export { decoderWeightSpecs, layerWeightSpecs, layerKey, parameterCount, type DecoderWeights, type WeightSpec } from './weights.js';
export { KvCache } from './kvCache.js';
export { decoderLayer, type LayerContext } from './layer.js';
export { Decoder, type ForwardOptions } from './decoder.js';
export { randomDecoder } from './init.js';
export { forwardFlops } from './flops.js';
