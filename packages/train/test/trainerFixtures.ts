import { randomDecoder, type DecoderConfig } from '@recur/graph';
import type { tf } from '@recur/tensor';
import type { BatchSource } from '../src/index.js';

/** Deterministic batches: consecutive windows of a fixed pseudo-random token stream; state = the cursor. */
export class CyclingSource implements BatchSource {
  private cursor = 0;
  private readonly stream: Int32Array;

  constructor(
    vocab: number,
    private readonly batchSize: number,
    private readonly seqLen: number,
    seed = 1,
  ) {
    let s = seed >>> 0;
    // A learnable stream: mostly "next = previous + 1", so loss can fall quickly.
    this.stream = Int32Array.from({ length: 4096 }, (_, i) => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s % 7 === 0 ? s % vocab : (i * 3) % vocab;
    });
  }

  next(): Int32Array[] {
    return Array.from({ length: this.batchSize }, () => {
      const start = (this.cursor++ * this.seqLen) % (this.stream.length - this.seqLen - 1);
      return this.stream.slice(start, start + this.seqLen + 1);
    });
  }

  state(): unknown {
    return { cursor: this.cursor };
  }

  restore(state: unknown): void {
    this.cursor = (state as { cursor: number }).cursor;
  }
}

export const tinyConfig: DecoderConfig = {
  vocabSize: 32,
  hiddenSize: 16,
  intermediateSize: 32,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 4,
  maxPositionEmbeddings: 64,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieWordEmbeddings: true,
};

/** The tiny random decoder's weights as plain tensors (caller disposes). */
export function tinyWeights(config: DecoderConfig = tinyConfig, seed = 7): Map<string, tf.Tensor> {
  return new Map(randomDecoder(config, { seed, std: 0.1 }).weights);
}
