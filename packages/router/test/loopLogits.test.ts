import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { randomDecoder, type DecoderConfig } from '@recur/graph';
import { exitDepthsTf, loopLogits, perLoopCrossEntropy, selfDistillationLoss } from '../src/index.js';

const tiny: DecoderConfig = {
  vocabSize: 24,
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
  layerOrder: [0, 1, 0, 1, 0, 1], // three loops over a shared two-layer block
};

describe('loop readouts from a decoder forward', () => {
  beforeAll(() => initBackend());

  it('onLoopEnd states → head logits; the last loop reads out the forward’s own logits; losses run; no leaks', () => {
    const decoder = randomDecoder(tiny, { seed: 1, std: 0.3 });
    const ids = [1, 5, 7, 2, 9];
    const targets = Int32Array.of(5, 7, 2, 9, -1);
    const before = tf.memory().numTensors;
    const result = tf.tidy(() => {
      const states: tf.Tensor2D[] = [];
      const logits = decoder.forward(ids, { onLoopEnd: (_loop, h) => void states.push(tf.keep(h)) }); // [T, V]
      const loops = loopLogits(decoder, states); // 3 × [T, V]
      const lastMatches = tf.max(tf.abs(tf.sub(loops[2]!, logits))).dataSync()[0] ?? NaN;
      const depths = exitDepthsTf(loops, { kind: 'fixed', depth: 2 });
      const ce = perLoopCrossEntropy(loops, targets).dataSync()[0] ?? NaN;
      const kd = selfDistillationLoss(loops, { temperature: 2 }).dataSync()[0] ?? NaN;
      tf.dispose(states); // kept past the forward's own tidy
      return { lastMatches, shapes: loops.map((l) => l.shape), depths: [...depths], ce, kd };
    });
    expect(result.shapes).toEqual([
      [5, 24],
      [5, 24],
      [5, 24],
    ]);
    expect(result.lastMatches).toBeLessThan(1e-5);
    expect(result.depths).toEqual([2, 2, 2, 2, 2]);
    expect(Number.isFinite(result.ce) && result.ce > 0).toBe(true);
    expect(Number.isFinite(result.kd) && result.kd >= 0).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    decoder.dispose();
  });
});
