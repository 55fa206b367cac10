import { beforeAll, describe, expect, it } from 'vitest';
import { layerKey, randomDecoder, type DecoderConfig } from '@recur/graph';
import { crossEntropy, initBackend, tf } from '@recur/tensor';
import { gradientConflict, gradientCosine, layerGradients } from '../src/index.js';

const config: DecoderConfig = {
  vocabSize: 24,
  hiddenSize: 16,
  intermediateSize: 24,
  numLayers: 3,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 4,
  maxPositionEmbeddings: 64,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieWordEmbeddings: true,
  layerOrder: [0, 1, 1, 2], // middle-cycle: ends 0 and 2 around a block looped twice
};
const a = [Array.from({ length: 9 }, (_, i) => (i * 7 + 3) % 24)];
const b = [Array.from({ length: 9 }, (_, i) => (i * 5 + 1) % 24)];

beforeAll(async () => {
  await initBackend();
});

describe('Uni-X gradient conflict', () => {
  it('cosine equals a float64 computation', () => {
    const x = [Float32Array.from([1, 2, 3]), Float32Array.from([-1, 0.5])];
    const y = [Float32Array.from([0.3, -2, 1]), Float32Array.from([4, 1])];
    const flat = (v: Float32Array[]) => v.flatMap((t) => [...t]);
    const [fx, fy] = [flat(x), flat(y)];
    const dot = fx.reduce((s, v, i) => s + v * fy[i]!, 0);
    const norm = (v: number[]) => Math.sqrt(v.reduce((s, t) => s + t * t, 0));
    expect(gradientCosine(x, y)).toBeCloseTo(dot / (norm(fx) * norm(fy)), 12);
    expect(gradientCosine(x, x)).toBeCloseTo(1, 12);
    expect(gradientCosine(x, [Float32Array.from([0, 0, 0]), Float32Array.from([0, 0])])).toBe(0);
  });

  it('layer gradients match central differences; the same data agrees everywhere; separate ends report null', () => {
    const decoder = randomDecoder(config, { seed: 2, std: 0.3 });
    const baseline = tf.memory().numTensors;
    const grads = layerGradients(decoder, undefined, a);
    const key = layerKey(1, 'mlp.down_proj.weight');
    const w = decoder.weights.get(key)!;
    const base = w.dataSync().slice();
    const eps = 1e-2;
    for (const i of [0, 17, 101]) {
      const lossAt = (delta: number) => {
        const bumped = base.slice();
        bumped[i]! += delta;
        return tf.tidy(() => {
          const map = new Map(decoder.weights);
          map.set(key, tf.tensor(bumped, w.shape));
          const d = new (decoder.constructor as typeof import('@recur/graph').Decoder)(config, map);
          return crossEntropy(d.forward(a[0]!.slice(0, -1)), Int32Array.from(a[0]!.slice(1))).dataSync()[0]!;
        });
      };
      expect(grads.get(key)![i]).toBeCloseTo((lossAt(eps) - lossAt(-eps)) / (2 * eps), 3);
    }
    const model = { decoder };
    const same = gradientConflict(model, model, a, a);
    for (const { cosine } of same) expect(cosine).toBeCloseTo(1, 6);
    const shared = gradientConflict(model, model, a, b);
    expect(shared.map((c) => c.layer)).toEqual([0, 1, 2]);
    for (const { cosine } of shared) expect(Math.abs(cosine!)).toBeLessThanOrEqual(1);
    const separate = gradientConflict(model, model, a, b, [0, 2]);
    expect(separate.map((c) => c.cosine === null)).toEqual([true, false, true]);
    expect(separate[1]!.cosine).toBeCloseTo(shared[1]!.cosine!, 6);
    expect(tf.memory().numTensors).toBe(baseline);
    decoder.dispose();
  });
});
