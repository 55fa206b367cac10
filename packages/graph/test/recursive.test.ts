import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { Decoder, parameterCount, recursiveFromPretrained, type DecoderConfig } from '../src/index.js';
import { randomWeights } from './randomWeights.js';

const source: DecoderConfig = {
  vocabSize: 40,
  hiddenSize: 16,
  intermediateSize: 24,
  numLayers: 6,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 4,
  maxPositionEmbeddings: 64,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieWordEmbeddings: true,
};
const arrays = randomWeights(source, 3);
const ids = [1, 7, 3, 22, 9];
const perLayer = 2 * 16 + 16 * 16 * 2 + 8 * 16 * 2 + 3 * 16 * 24;

async function logitsOf(config: DecoderConfig, weights: ReadonlyMap<string, Float32Array>): Promise<Float32Array> {
  const decoder = Decoder.fromArrays(config, weights);
  const out = decoder.forward(ids);
  const data = (await out.data()) as Float32Array;
  out.dispose();
  decoder.dispose();
  return data;
}

describe('recursive conversion', () => {
  beforeAll(() => initBackend());

  it('with N = 1 and K = L reproduces the source model exactly', async () => {
    const expected = await logitsOf(source, arrays);
    for (const strategy of ['cycle', 'sequence', 'middle-cycle', 'middle-sequence'] as const) {
      for (const init of ['stepwise', 'average', 'lower', 'upper'] as const) {
        const spec = recursiveFromPretrained(source, arrays, { loops: 1, strategy, init });
        expect(await logitsOf(spec.config, spec.arrays)).toEqual(expected);
      }
    }
  });

  it('stores each shared layer once: exact parameter counts', () => {
    const embed = 40 * 16 + 16;
    const spec = recursiveFromPretrained(source, arrays, { loops: 3, strategy: 'cycle', init: 'average' });
    expect(parameterCount(spec.config)).toBe(embed + 2 * perLayer);
    const middle = recursiveFromPretrained(source, arrays, { loops: 2, strategy: 'middle-sequence', init: 'stepwise' });
    expect(parameterCount(middle.config)).toBe(embed + 4 * perLayer);
    expect(spec.config.layerOrder).toEqual([0, 1, 0, 1, 0, 1]);
  });

  it('initialises the shared block by stepwise, average, lower and upper', () => {
    const key = (l: number) => `model.layers.${l}.self_attn.q_proj.weight`;
    const pick = (init: 'stepwise' | 'average' | 'lower' | 'upper') =>
      recursiveFromPretrained(source, arrays, { loops: 3, strategy: 'cycle', init }).arrays;
    expect(pick('stepwise').get(key(1))).toEqual(arrays.get(key(5))); // round(linspace(0, 5, 2)) = [0, 5]
    expect(pick('lower').get(key(1))).toEqual(arrays.get(key(1)));
    expect(pick('upper').get(key(0))).toEqual(arrays.get(key(4)));
    const mean = pick('average').get(key(1))!;
    const expected = arrays.get(key(1))!.map((v, i) => (v + arrays.get(key(3))![i]! + arrays.get(key(5))![i]!) / 3);
    mean.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    const norm = 'model.layers.0.input_layernorm.weight';
    const averagedNorm = pick('average').get(norm)!;
    expect(averagedNorm[0]).toBeCloseTo(
      (arrays.get(norm)![0]! +
        arrays.get('model.layers.2.input_layernorm.weight')![0]! +
        arrays.get('model.layers.4.input_layernorm.weight')![0]!) /
        3,
      6,
    );
  });

  it('reports the hidden state where each loop ends (onLoopEnd), without changing the logits', async () => {
    // order [0,1,0,1,0,1]
    const spec = recursiveFromPretrained(source, arrays, { loops: 3, strategy: 'cycle', init: 'average' });
    const decoder = Decoder.fromArrays(spec.config, spec.arrays);
    const before = tf.memory().numTensors;
    const seen: { loop: number; h: tf.Tensor2D }[] = [];
    const logits = decoder.forward(ids, { onLoopEnd: (loop, h) => seen.push({ loop, h: tf.keep(h) }) });
    expect(seen.map((s) => s.loop)).toEqual([0, 1, 2]);
    expect(seen.every((s) => s.h.shape.join() === `${ids.length},16`)).toBe(true);
    const fromLast = tf.tidy(() => decoder.head(seen[2]!.h)); // the last loop's state is what the head reads
    expect(await fromLast.data()).toEqual(await logits.data());
    expect(await logits.data()).toEqual(await logitsOf(spec.config, spec.arrays)); // the hook changes nothing
    tf.dispose([logits, fromLast, ...seen.map((s) => s.h)]);
    expect(tf.memory().numTensors).toBe(before);
    decoder.dispose();
    // MIDDLE-*: the unique first/last layers are loop 0, so loop 0 ends after the last layer.
    const middle = recursiveFromPretrained(source, arrays, { loops: 2, strategy: 'middle-cycle', init: 'stepwise' });
    const loops: number[] = [];
    const plain = Decoder.fromArrays(middle.config, middle.arrays);
    plain.forward(ids, { onLoopEnd: (loop) => loops.push(loop) }).dispose();
    expect(loops).toEqual([1, 0]);
    plain.dispose();
  });

  it("with depth-fit floor, inits pick from the K·N kept source layers (the public code's adjusted model)", () => {
    // L = 6, cycle × 4: K = floor(6/4) = 1, kept layers round(linspace(0, 5, 4)) = [0, 2, 3, 5]
    const key = (l: number) => `model.layers.${l}.self_attn.q_proj.weight`;
    const pick = (init: 'stepwise' | 'average' | 'lower' | 'upper') =>
      recursiveFromPretrained(source, arrays, { loops: 4, strategy: 'cycle', init });
    expect(pick('lower').plan.steps.map((s) => s.sourceLayer)).toEqual([0, 2, 3, 5]);
    expect(pick('upper').arrays.get(key(0))).toEqual(arrays.get(key(5)));
    expect(pick('lower').arrays.get(key(0))).toEqual(arrays.get(key(0)));
    const mean = pick('average').arrays.get(key(0))!;
    mean.forEach((v, i) =>
      expect(v).toBeCloseTo([0, 2, 3, 5].reduce((sum, l) => sum + arrays.get(key(l))![i]!, 0) / 4, 6),
    );
    // the old rule keeps K = round(6/4) = 2 and repeats layers
    const old = recursiveFromPretrained(source, arrays, {
      loops: 4,
      strategy: 'cycle',
      init: 'lower',
      depthFit: 'round',
    });
    expect(old.plan.steps.map((s) => s.sourceLayer)).toEqual([0, 1, 1, 2, 3, 4, 4, 5]);
  });

  it('runs the shared block once per loop with one KV slot per executed step, leaking nothing', () => {
    const spec = recursiveFromPretrained(source, arrays, { loops: 3, strategy: 'sequence', init: 'random', seed: 5 });
    const decoder = Decoder.fromArrays(spec.config, spec.arrays);
    const before = tf.memory().numTensors;
    const cache = decoder.newCache();
    expect(cache.numSteps).toBe(6);
    decoder.forward(ids, { cache }).dispose();
    decoder.forward([4], { cache, lastOnly: true }).dispose();
    expect(cache.elementCount()).toBe(6 * 2 * 6 * 2 * 4); // steps × (K and V) × tokens × kv heads × head dim
    cache.dispose();
    expect(tf.memory().numTensors).toBe(before);
    decoder.dispose();
  });
});
