import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { type Decoder, randomDecoder, type DecoderConfig } from '@recur/graph';
import {
  depthForward,
  expertChoiceRouting,
  expertForcedDepth,
  expertRouterPrefix,
  initScalarRouter,
  initTokenRouter,
  routerTensors,
  tokenChoiceRouting,
  tokenForcedDepth,
  type LoopRouting,
} from '../src/index.js';

// MIDDLE-CYCLE: unique first layer, one layer looped 3 times, unique last layer.
const config: DecoderConfig = {
  vocabSize: 40,
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
  layerOrder: [0, 1, 1, 1, 2],
};
const N = 3;
const ids = [1, 7, 3, 22, 9, 14, 30, 5, 2, 11];
let decoder: Decoder;
let routers: Map<string, tf.Tensor>;

beforeAll(async () => {
  await initBackend();
  decoder = randomDecoder(config, { seed: 5, std: 0.3 });
  routers = new Map([
    ...Array.from({ length: N }, (_, r) => [
      ...routerTensors(initScalarRouter(expertRouterPrefix(r), { hiddenSize: 16, std: 1, seed: 60 + r })),
    ]).flat(),
    ...routerTensors(initTokenRouter({ hiddenSize: 16, numRecursions: N, std: 1, seed: 2 })),
  ]);
});

function run(routing: () => LoopRouting): { logits: number[]; depths: number[] } {
  const cache = decoder.newDepthCache('recursion-wise');
  try {
    return tf.tidy(() => {
      const res = depthForward(decoder, ids, { cache, routing: routing() });
      return { logits: Array.from(res.logits.dataSync()), depths: Array.from(res.depths) };
    });
  } finally {
    cache.dispose();
  }
}

describe('forced-depth routings (per-loop scores of router models)', () => {
  it("expert-choice: every token runs exactly d loops with each loop's gate — the threshold rule that keeps all, then none", () => {
    const before = tf.memory().numTensors;
    const almostAll = 1e-12; // σ > 1e-12: every token continues
    const almostNone = 1 - 1e-12;
    for (const depth of [1, 2, 3]) {
      const thresholds = [0, ...Array.from({ length: N - 1 }, (_, i) => (i + 1 < depth ? almostAll : almostNone))];
      const forced = run(() => expertForcedDepth(routers, { depth, numRecursions: N, alpha: 0.3 }));
      const routed = run(() =>
        expertChoiceRouting(routers, { numRecursions: N, mode: 'threshold', alpha: 0.3, thresholds }),
      );
      expect(forced.depths).toEqual(ids.map(() => depth));
      expect(routed.depths).toEqual(forced.depths);
      expect(forced.logits).toEqual(routed.logits);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each(['paper', 'gated-every-loop'] as const)(
    'token-choice (%s): depth d gated by p(d) — what the router computes when it picks d for everyone',
    (form) => {
      const before = tf.memory().numTensors;
      const deep = run(() => tokenForcedDepth(routers, { depth: N, numRecursions: N, form }));
      for (const depth of [1, 2, 3]) {
        // steers the choice only; the gate stays p(d)
        const bias = Float32Array.from({ length: N }, (_, i) => (i === depth - 1 ? 10 : 0));
        const forced = run(() => tokenForcedDepth(routers, { depth, numRecursions: N, form }));
        const routed = run(() => tokenChoiceRouting(routers, { form, bias }));
        expect(forced.depths).toEqual(ids.map(() => depth));
        expect(routed.depths).toEqual(forced.depths);
        expect(forced.logits).toEqual(routed.logits);
        if (depth < N) expect(forced.logits).not.toEqual(deep.logits);
      }
      expect(tf.memory().numTensors).toBe(before);
    },
  );

  it('refuses a depth outside 1..N', () => {
    expect(() => expertForcedDepth(routers, { depth: 0, numRecursions: N, alpha: 0.1 })).toThrow(
      /forced depth 0 outside 1..3/,
    );
    expect(() => tokenForcedDepth(routers, { depth: 4, numRecursions: N, form: 'paper' })).toThrow(
      /forced depth 4 outside 1..3/,
    );
  });
});
