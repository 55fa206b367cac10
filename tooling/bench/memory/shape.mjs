/**
 * meta-llama/Llama-3.2-1B's shape: 16 layers, hidden 2048, 32 heads / 8 KV heads (head 64), FFN
 * 8192, vocab 128256, tied embeddings — 1,235,814,400 parameters, 4.94 GB in F32. The context is
 * cut to 2048 and RoPE scaling left out: neither changes the weights.
 * @type {import('../../../packages/checkpoint/dist/index.js').ModelConfig}
 */
export const llama1bShape = {
  architecture: 'llama',
  vocabSize: 128256,
  hiddenSize: 2048,
  intermediateSize: 8192,
  numLayers: 16,
  numHeads: 32,
  numKvHeads: 8,
  headDim: 64,
  maxPositionEmbeddings: 2048,
  rmsNormEps: 1e-5,
  ropeTheta: 500000,
  ropeScaling: null,
  tieWordEmbeddings: true,
  attentionBias: false,
  bosTokenId: 1,
  eosTokenId: 2,
};
