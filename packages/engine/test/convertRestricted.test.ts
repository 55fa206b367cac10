import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { convertModel, disposeModel, sourceRestrictedTo, type LoadedModel } from '../src/index.js';
import { loadModel } from '../src/node/index.js';
import { maxAbs, maxAbsDiff, promptLogits as logits } from './logits.js';
import { hfPath } from './stories260k.js';

/**
 * Issue 15 §2: when stories260K's 5 layers do not divide by the loops, the floor depth fit drops source
 * layers and the round fit repeats one. Either way every executed step stands for exactly one source
 * layer, so full-rank SVD LoRA with per-loop norms must compute the source restricted to those layers
 * (in that order) — for every init, since the LoRA restores whatever the init lost.
 */
const cases = [
  // [strategy, depth fit, source layer of every executed step]
  ['middle-cycle', 'floor', [0, 1, 3, 4]],
  ['middle-cycle', 'round', [0, 1, 2, 2, 3, 4]],
  ['cycle', 'floor', [0, 1, 3, 4]],
  ['cycle', 'round', [0, 1, 2, 2, 3, 4]],
] as const;

let stories: LoadedModel;

describe('full-rank SVD LoRA reproduces the source restricted to the executed layers', () => {
  beforeAll(async () => {
    await initBackend();
    stories = await loadModel(hfPath);
  });
  afterAll(() => disposeModel(stories));

  it('restricting to every layer in order is the source itself', async () => {
    const whole = await sourceRestrictedTo(stories, [0, 1, 2, 3, 4]);
    expect(maxAbsDiff(logits(whole), logits(stories))).toBe(0);
    disposeModel(whole);
    await expect(sourceRestrictedTo(stories, [0, 5])).rejects.toThrow(/0\.\.4/);
  });

  it.each(cases)('%s × 2, depth fit %s: steps run source layers %j', async (strategy, depthFit, layers) => {
    const before = tf.memory().numTensors;
    const restricted = await sourceRestrictedTo(stories, layers);
    const expected = logits(restricted);
    disposeModel(restricted);
    const tolerance = 1e-5 * Math.max(1, maxAbs(expected));
    for (const init of ['stepwise', 'average', 'lower'] as const) {
      const model = await convertModel(stories, {
        strategy,
        loops: 2,
        depthFit,
        init,
        ranks: { attention: 'full', mlp: 'full' },
        loraInit: 'svd',
        norms: 'per-loop',
      });
      expect(model.plan.steps.map((s) => s.sourceLayer)).toEqual(layers);
      expect(maxAbsDiff(logits(model), expected), init).toBeLessThan(tolerance);
      // tied norms: the LoRA cannot restore averaged or borrowed norm weights, so the match is lost
      const tied = await convertModel(stories, {
        strategy,
        loops: 2,
        depthFit,
        init,
        ranks: { attention: 'full', mlp: 'full' },
        loraInit: 'svd',
        norms: 'tied',
      });
      expect(maxAbsDiff(logits(tied), expected), `${init}, tied norms`).toBeGreaterThan(100 * tolerance);
      disposeModel(tied);
      disposeModel(model);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
