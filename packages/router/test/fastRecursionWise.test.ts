import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Mulberry32 } from '@recur/tensor';
import {
  Decoder,
  decoderWeightSpecs,
  FastDecoder,
  type DecoderConfig,
  type DepthKvMode,
  type ExpertChoiceDescription,
} from '@recur/graph';
import { referenceDepthForward } from './referenceDepthForward.js';

// MIDDLE-CYCLE: unique layer 0, block of stored layers 1, 2 looped N = 3 times, unique layer 3.
const config: DecoderConfig = {
  vocabSize: 40,
  hiddenSize: 16,
  intermediateSize: 24,
  numLayers: 4,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 4,
  maxPositionEmbeddings: 64,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieWordEmbeddings: true,
  layerOrder: [0, 1, 2, 1, 2, 1, 2, 3],
};
const structure = { prologue: [0], block: [1, 2], loops: 3, epilogue: [3] };
const ids = [1, 7, 3, 22, 9, 14, 30, 5, 2, 11, 18, 26];
const d = config.hiddenSize;

function arrays(seed: number): Map<string, Float32Array> {
  const random = new Mulberry32(seed);
  return new Map(
    decoderWeightSpecs(config).map((spec) => {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      const isNorm = spec.shape.length === 1;
      return [
        spec.name,
        Float32Array.from({ length: size }, () =>
          isNorm ? 1 + 0.4 * (random.next() - 0.5) : 0.8 * (random.next() - 0.5),
        ),
      ];
    }),
  );
}

const random = new Mulberry32(9);
const routing: ExpertChoiceDescription = {
  kind: 'expert',
  alpha: 0.8,
  thresholds: [0.5, 0.5, 0.5],
  routers: Array.from({ length: 3 }, () => ({
    kind: 'linear' as const,
    weight: Float32Array.from({ length: d }, () => 2 * (random.next() - 0.5)),
  })),
};
/** α·σ(w_r·h) in float64, from the weights (not the evaluator under test). */
const gate = (r: number, h: readonly number[]): number => {
  const w = routing.routers[r]!;
  const logit = h.reduce((s, x, i) => s + x * (w.kind === 'linear' ? w.weight[i]! : 0), 0);
  return routing.alpha / (1 + Math.exp(-logit));
};

let weights: Map<string, Float32Array>;
let decoder: Decoder;
let fast: FastDecoder;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1 });
  weights = arrays(11);
  decoder = Decoder.fromArrays(config, weights);
  fast = (await FastDecoder.create(config, decoder.weights, { maxRows: 4, chunkRows: 4 }))!;
});

afterAll(() => {
  fast.dispose();
  decoder.dispose();
});

/** ids through the fused forwardDepth, `step` tokens per call: logits [T·V], depths, entries per step. */
function run(kvMode: DepthKvMode, step: number) {
  const cache = fast.newCache(4, kvMode);
  const logits: number[] = [];
  const depths: number[] = [];
  for (let s = 0; s < ids.length; s += step) {
    const res = fast.forwardDepth(ids.slice(s, s + step), { cache, routing });
    logits.push(...res.logits);
    depths.push(...res.depths);
  }
  const entries = cache.entriesPerStep();
  cache.dispose();
  return { logits, depths, entries };
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
};

describe('recursion-wise KV on the fused cache: a deeper query ignores tokens that left', () => {
  it('logits equal the float64 per-token-depth forward that drops departed tokens from deeper loops (whole sequence, chunks and token by token)', () => {
    const { depths } = run('recursion-wise', ids.length);
    // The case that matters occurs: a token leaves after loop 0 and a later one runs all three loops.
    expect(depths.some((x, t) => x === 1 && depths.slice(t + 1).includes(3))).toBe(true);
    const expected = referenceDepthForward(config, weights, ids, depths, structure, gate);
    const tolerance = 1e-4 * Math.max(1, ...Array.from(expected, Math.abs));
    for (const step of [ids.length, 5, 1]) {
      const got = run('recursion-wise', step);
      expect(got.depths, `step ${step}`).toEqual(depths);
      expect(maxAbsDiff(got.logits, expected), `step ${step}`).toBeLessThan(tolerance);
    }
    // Teeth: under 'copy' the departed tokens' keys stay visible to deeper loops, and the reference misses them.
    expect(maxAbsDiff(run('copy', ids.length).logits, expected)).toBeGreaterThan(1e-3);
  });

  it('each loop slot holds only the tokens that ran it (entries per step, as DepthKvCache counts them)', () => {
    const { depths, entries } = run('recursion-wise', 1);
    const ran = (r: number): number => depths.filter((x) => x > r).length;
    // Steps: prologue, (loop 0: 2 steps), (loop 1: 2), (loop 2: 2), epilogue.
    expect(entries).toEqual([ids.length, ran(0), ran(0), ran(1), ran(1), ran(2), ran(2), ids.length]);
    expect(ran(2)).toBeLessThan(ids.length);
  });

  it('a compact slot refuses an out-of-order write and overwrites a re-written last position in place', () => {
    const cache = fast.newCache(8, 'recursion-wise');
    const loopStep = fast.structure.loops[1]![0]!.step;
    expect(cache.writeIndex(loopStep, 2)).toBe(0);
    expect(cache.writeIndex(loopStep, 5)).toBe(1);
    expect(cache.writeIndex(loopStep, 5)).toBe(1);
    expect(() => cache.writeIndex(loopStep, 3)).toThrow(RangeError);
    expect([cache.context(loopStep, 1), cache.context(loopStep, 4), cache.context(loopStep, 9)]).toEqual([0, 1, 2]);
    expect(cache.storedElements()).toBe(2 * 2 * config.numKvHeads * config.headDim);
    cache.dispose();
  });
});
