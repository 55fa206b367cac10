import { randomDecoder, type Decoder } from '@recur/graph';
import type { ModelConfig } from '@recur/checkpoint';

/** Shapes of public models, for random-weight benchmarks (no weights are downloaded). */
export const modelPresets: Readonly<Record<string, ModelConfig>> = {
  // HuggingFaceTB/SmolLM-135M: 30 layers, hidden 576, 9 heads / 3 KV heads, FFN 1536, vocab 49152.
  'smollm-135m': {
    architecture: 'llama',
    vocabSize: 49152,
    hiddenSize: 576,
    intermediateSize: 1536,
    numLayers: 30,
    numHeads: 9,
    numKvHeads: 3,
    headDim: 64,
    maxPositionEmbeddings: 2048,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    ropeScaling: null,
    tieWordEmbeddings: true,
    attentionBias: false,
    bosTokenId: 1,
    eosTokenId: 2,
  },
};

/** A decoder of a preset's shape with seeded random weights. */
export function presetDecoder(name: string, seed = 1): Decoder | undefined {
  const config = modelPresets[name];
  return config ? randomDecoder(config, { seed }) : undefined;
}
