import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Decoder, decoderWeightSpecs } from '@recur/graph';
import { initBackend, Mulberry32, tf } from '@recur/tensor';
import { convertModel, disposeModel, generate, type LoadedModel } from '../src/index.js';
import { loadModel } from '../src/node/index.js';
import { hfPath } from './stories260k.js';
import { maxAbs, maxAbsDiff, promptLogits as logits, ref } from './logits.js';

/**
 * Full-rank exactness beyond the degenerate shapes stories260K allows (L = 5: only K = 1 or N = 1):
 * random-weight sources of stories260K's width with L = 4, 6 or 8 layers, converted with K ≥ 2 and
 * N ≥ 2 (loops × K = L for CYCLE, L − 2 for MIDDLE-CYCLE; depth-fit floor keeps every layer).
 */
const cases = [
  // [strategy, source layers L, loops N, block size K]
  ['cycle', 4, 2, 2],
  ['cycle', 6, 3, 2],
  ['cycle', 6, 2, 3],
  ['middle-cycle', 6, 2, 2],
  ['middle-cycle', 8, 3, 2],
  ['middle-cycle', 8, 2, 3],
] as const;

let stories: LoadedModel;

/**
 * stories260K's tokenizer and vocabulary, half its width, L
 * random layers (norm weights varied, so per-loop norms matter).
 */
function randomSource(numLayers: number, seed: number): LoadedModel {
  const config = {
    ...stories.decoder.config,
    numLayers,
    hiddenSize: 32,
    intermediateSize: 48,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 8,
  };
  const random = new Mulberry32(seed);
  const arrays = new Map<string, Float32Array>();
  for (const spec of decoderWeightSpecs(config)) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const isNorm = spec.shape.length === 1;
    arrays.set(
      spec.name,
      Float32Array.from({ length: size }, () =>
        isNorm ? 1 + 0.4 * (random.next() - 0.5) : 0.4 * (random.next() - 0.5),
      ),
    );
  }
  return { ...stories, config: { ...stories.config, ...config }, decoder: Decoder.fromArrays(config, arrays) };
}

async function greedy(model: LoadedModel): Promise<number[]> {
  return (await generate(model, { prompt: ref.prompt, maxNewTokens: 12, stopAtEos: false })).ids;
}

describe('full-rank SVD LoRA with per-loop norms reproduces the source for K ≥ 2 and N ≥ 2', () => {
  beforeAll(async () => {
    await initBackend();
    stories = await loadModel(hfPath);
  });
  afterAll(() => disposeModel(stories));

  it.each(cases)(
    '%s, L = %i, N = %i (K = %i): logits within 1e-5 of their scale, same greedy tokens',
    async (strategy, layers, loops, blockSize) => {
      const source = randomSource(layers, 17 + layers);
      const expected = logits(source);
      const tolerance = 1e-5 * Math.max(1, maxAbs(expected));
      const expectedIds = await greedy(source);
      for (const init of ['stepwise', 'average', 'lower', 'upper'] as const) {
        const before = tf.memory().numTensors;
        const model = await convertModel(source, {
          strategy,
          loops,
          init,
          ranks: { attention: 'full', mlp: 'full' },
          loraInit: 'svd',
          norms: 'per-loop',
        });
        expect([model.plan.blockSize, model.plan.loops]).toEqual([blockSize, loops]);
        expect(model.plan.steps.filter((s) => s.role === 'shared').length).toBe(blockSize * loops);
        expect(maxAbsDiff(logits(model), expected), init).toBeLessThan(tolerance);
        expect(await greedy(model), init).toEqual(expectedIds);
        if (init === 'average') {
          const tiedOnly = await convertModel(source, {
            strategy,
            loops,
            init,
            ranks: { attention: 0, mlp: 0 },
            loraInit: 'svd',
            norms: 'tied',
          });
          expect(maxAbsDiff(logits(tiedOnly), expected)).toBeGreaterThan(100 * tolerance); // the adapters do the work
          disposeModel(tiedOnly);
        }
        disposeModel(model);
        expect(tf.memory().numTensors).toBe(before);
      }
      source.decoder.dispose();
    },
  );
});
