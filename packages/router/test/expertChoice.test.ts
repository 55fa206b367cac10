import { beforeAll, describe, expect, it } from 'vitest';
import { gaussianArray, initBackend, tf } from '@recur/tensor';
import { registerGradients } from '@recur/train';
import {
  capacityFraction,
  capacityTokens,
  expertRouterPrefix,
  initScalarRouter,
  routeByThreshold,
  routeExpertChoice,
  routerTensors,
  routingAgreement,
  scalarRouterLogits,
  scatterGatedUpdate,
  selectTopK,
  thresholdDecisions,
  type RoutingDecision,
} from '../src/index.js';

const D = 8;
const randomH = (tokens: number, seed: number): tf.Tensor2D =>
  tf.tensor2d(gaussianArray(tokens * D, seed), [tokens, D]); // [T, d]
const routers = (numRecursions: number, architecture: 'linear' | 'mlp' = 'linear'): Map<string, tf.Tensor> =>
  new Map(
    Array.from({ length: numRecursions }, (_, r) => [
      ...routerTensors(initScalarRouter(expertRouterPrefix(r), { hiddenSize: D, architecture, std: 1, seed: 10 + r })),
    ]).flat(),
  );
const dispose = (d: RoutingDecision): void => tf.dispose([d.logits, d.gate]);

describe('expert-choice router', () => {
  beforeAll(async () => {
    await initBackend();
    registerGradients();
  });

  it('capacity: (N_r − r)/N_r, cosine warm-up from full capacity', () => {
    expect([0, 1, 2].map((r) => capacityFraction(r, { numRecursions: 3 }))).toEqual([1, 2 / 3, 1 / 3]);
    expect([0, 1, 2, 3].map((r) => capacityTokens(12, r, { numRecursions: 4 }))).toEqual([12, 9, 6, 3]);
    // 1e-9 absorbs 2/3·3 = 1.999…
    expect([0, 1, 2].map((r) => capacityTokens(3, r, { numRecursions: 3 }))).toEqual([3, 2, 1]);
    expect([0, 1, 2, 3].map((r) => capacityTokens(13, r, { numRecursions: 4 }))).toEqual([13, 9, 6, 3]); // floors
    expect(capacityTokens(2, 2, { numRecursions: 3 })).toBe(1); // never zero
    const warm = { numRecursions: 2, warmupSteps: 100 };
    expect(capacityFraction(1, { ...warm, step: 0 })).toBe(1);
    expect(capacityFraction(1, { ...warm, step: 50 })).toBeCloseTo(0.75, 12); // halfway down the cosine: ½ + ½·½
    expect(capacityFraction(1, { ...warm, step: 25 })).toBeCloseTo(0.5 + 0.5 * 0.5 * (1 + Math.cos(Math.PI / 4)), 12);
    expect(capacityFraction(1, { ...warm, step: 100 })).toBe(0.5);
    expect(capacityFraction(1, { ...warm, step: 1e6 })).toBe(0.5);
    expect(() => capacityFraction(3, { numRecursions: 3 })).toThrow(/outside 0..2/);
  });

  it('top-k: sorted positions, ties to the earlier position, NaN last', () => {
    const candidates = Int32Array.of(2, 4, 5, 7, 9);
    expect([...selectTopK([0.1, 0.5, 0.5, 0.9, 0.5], candidates, 3).selected]).toEqual([4, 5, 7]);
    expect([...selectTopK([0, 0, 0, 0, 0], candidates, 2).selected]).toEqual([2, 4]);
    expect([...selectTopK([NaN, 0, NaN, -1, 0], candidates, 3).selected]).toEqual([4, 7, 9]);
    expect([...selectTopK([1, 2, 3, 4, 5], candidates, 2).local]).toEqual([3, 4]);
  });

  it('hierarchical filtering: selected(r) ⊆ selected(r − 1), |selected| = capacity, positions sorted', () => {
    for (const [tokens, numRecursions, architecture] of [
      [13, 4, 'linear'],
      [12, 3, 'mlp'],
      [7, 2, 'linear'],
    ] as const) {
      const params = routers(numRecursions, architecture);
      const h = randomH(tokens, tokens);
      let candidates: Int32Array | null = null;
      for (let r = 0; r < numRecursions; r++) {
        const d = routeExpertChoice(params, h, candidates, { recursion: r, numRecursions });
        expect(d.selected.length).toBe(capacityTokens(tokens, r, { numRecursions }));
        expect(d.logits.shape).toEqual([candidates?.length ?? tokens]);
        expect(d.gate.shape).toEqual([d.selected.length]);
        for (let j = 1; j < d.selected.length; j++) expect(d.selected[j]!).toBeGreaterThan(d.selected[j - 1]!);
        if (candidates) for (const t of d.selected) expect(candidates).toContain(t);
        expect(d.selectedMask.reduce((a, b) => a + b, 0)).toBe(d.selected.length);
        // The kept tokens score at least as high as every dropped candidate.
        const logits = d.logits.dataSync();
        const kept = [...d.selectedMask.keys()].filter((j) => d.selectedMask[j]).map((j) => logits[j]!);
        const dropped = [...d.selectedMask.keys()].filter((j) => !d.selectedMask[j]).map((j) => logits[j]!);
        if (dropped.length > 0) expect(Math.min(...kept)).toBeGreaterThanOrEqual(Math.max(...dropped));
        candidates = d.selected;
        dispose(d);
      }
      h.dispose();
      tf.dispose([...params.values()]);
    }
  });

  it('ties are broken deterministically (zero router: the earliest positions)', () => {
    const params = new Map<string, tf.Tensor>([[`${expertRouterPrefix(1)}.weight`, tf.zeros([1, D])]]);
    const h = randomH(6, 1);
    const d = routeExpertChoice(params, h, Int32Array.of(0, 2, 3, 5), { recursion: 1, numRecursions: 2 });
    expect([...d.selected]).toEqual([0, 2, 3]); // capacity 3 of 6; all scores equal
    expect([...d.gate.dataSync()].every((g) => Math.abs(g - 0.05) < 1e-7)).toBe(true); // α·σ(0) = 0.1·0.5
    dispose(d);
    h.dispose();
    tf.dispose([...params.values()]);
  });

  it('gates: α·σ(logit) for sigmoid scoring, α·softmax over candidates for softmax scoring', () => {
    const params = routers(2);
    const h = randomH(6, 2);
    const sig = routeExpertChoice(params, h, null, { recursion: 1, numRecursions: 2, alpha: 0.3 });
    const soft = routeExpertChoice(params, h, null, { recursion: 1, numRecursions: 2, scoring: 'softmax' });
    expect([...soft.selected]).toEqual([...sig.selected]); // monotone scores, same top-k
    const logits = [...sig.logits.dataSync()];
    const z = logits.reduce((s, x) => s + Math.exp(x), 0);
    const local = [...sig.selectedMask.keys()].filter((j) => sig.selectedMask[j]);
    [...sig.gate.dataSync()].forEach((g, i) => expect(g).toBeCloseTo(0.3 / (1 + Math.exp(-logits[local[i]!]!)), 6));
    [...soft.gate.dataSync()].forEach((g, i) => expect(g).toBeCloseTo((0.1 * Math.exp(logits[local[i]!]!)) / z, 6));
    dispose(sig);
    dispose(soft);
    h.dispose();
    tf.dispose([...params.values()]);
  });

  it('scatterGatedUpdate: h_sel + g·Block(h_sel) on selected rows, other rows bit-identical', () => {
    const rows = [
      [-0, 1.5, NaN],
      [1, 2, 3],
      [-0, -0, 7.25],
      [4, 5, 6],
      [1e-40, -3, 0.1],
    ]; // −0, NaN and a subnormal must survive
    const h = tf.tensor2d(rows); // [5, 3]
    const blockOut = tf.tensor2d([
      [10, 20, 30],
      [1, 1, 1],
    ]); // [2, 3]
    const gate = tf.tensor1d([0.5, 2]);
    const before = tf.memory().numTensors;
    const out = scatterGatedUpdate(h, Int32Array.of(1, 3), blockOut, gate);
    expect(tf.memory().numTensors).toBe(before + 1);
    const bits = new Uint32Array(out.dataSync().buffer.slice(0));
    const inBits = new Uint32Array(h.dataSync().buffer.slice(0));
    for (const t of [0, 2, 4]) for (let c = 0; c < 3; c++) expect(bits[t * 3 + c]).toBe(inBits[t * 3 + c]);
    const values = out.dataSync();
    expect([...values.slice(3, 6)]).toEqual([1 + 5, 2 + 10, 3 + 15]);
    expect([...values.slice(9, 12)]).toEqual([4 + 2, 5 + 2, 6 + 2]);
    out.dispose();
    const same = scatterGatedUpdate(
      h,
      new Int32Array(0),
      tf.zeros([0, 3]) as tf.Tensor2D,
      tf.zeros([0]) as tf.Tensor1D,
    );
    expect(new Uint32Array(same.dataSync().buffer.slice(0))).toEqual(inBits);
    tf.dispose(same);
    expect(() => scatterGatedUpdate(h, Int32Array.of(3, 1), blockOut, gate)).toThrow(/strictly increasing/);
    tf.dispose([h, blockOut, gate]);
  });

  it('decode-time threshold rule is causal: other tokens never change a token’s decision', () => {
    expect([...thresholdDecisions([-1, 0, 1e-3, 2])]).toEqual([0, 0, 1, 1]);
    expect([...thresholdDecisions([0.5, 1], 0.7)]).toEqual([0, 1]); // logit(0.7) = 0.847
    const params = routers(3, 'mlp');
    const tokens = 10;
    const h = randomH(tokens, 3);
    const base = routeByThreshold(params, h, null, { recursion: 1 });
    const decided = new Set(base.selected);
    for (let t = 0; t < tokens; t++) {
      // Prefix only (future tokens removed) and every other row replaced by fresh noise.
      const prefix = tf.slice(h, [0, 0], [t + 1, D]) as tf.Tensor2D;
      const shuffled = tf.tidy(() => {
        const noise = tf.tensor2d(gaussianArray(tokens * D, 100 + t), [tokens, D]);
        const mask = tf.tensor2d(
          Array.from({ length: tokens }, (_, s) => (s === t ? 1 : 0)),
          [tokens, 1],
        );
        return tf.add(tf.mul(h, mask), tf.mul(noise, tf.sub(1, mask))) as tf.Tensor2D;
      });
      for (const variant of [prefix, shuffled]) {
        const d = routeByThreshold(params, variant, null, { recursion: 1 });
        expect(new Set(d.selected).has(t)).toBe(decided.has(t));
        dispose(d);
      }
      tf.dispose([prefix, shuffled]);
    }
    const first = routeByThreshold(params, h, null, { recursion: 0 });
    expect(first.selected.length).toBe(tokens); // recursion 0 keeps everyone, as in training
    dispose(first);
    dispose(base);
    h.dispose();
    tf.dispose([...params.values()]);
  });

  it('agreement between threshold decisions and top-k on a constructed case', () => {
    const cand = Int32Array.of(0, 1, 2, 3, 4, 5);
    expect(routingAgreement(cand, Int32Array.of(0, 2, 3), Int32Array.of(0, 3, 4))).toEqual({
      both: 2,
      thresholdOnly: 1,
      topKOnly: 1,
      neither: 2,
      agreement: 4 / 6,
    });
    // logit = h[:, 0], exactly half of them positive: the threshold and the top 50% agree everywhere.
    const w = tf.tensor2d([[1, 0, 0, 0, 0, 0, 0, 0]]); // logit = h[:, 0]
    const params = new Map<string, tf.Tensor>([[`${expertRouterPrefix(1)}.weight`, w]]);
    // [6, 8]
    const h = tf.tensor2d(Array.from({ length: 6 }, (_, t) => [[-2, 3, 1, -1, 0.5, -0.5][t]!, 0, 0, 0, 0, 0, 0, 0]));
    const topK = routeExpertChoice(params, h, null, { recursion: 1, numRecursions: 2 });
    const thr = routeByThreshold(params, h, null, { recursion: 1 });
    expect([...topK.selected]).toEqual([1, 2, 4]);
    expect(routingAgreement(cand, thr.selected, topK.selected).agreement).toBe(1);
    // Every logit +1 → [−1, 4, 2, 0, 1.5, 0.5]: the threshold keeps 4 (0 is not > 0), top-k still keeps 3.
    const shifted = tf.add(h, tf.tensor2d([[1, 0, 0, 0, 0, 0, 0, 0]])) as tf.Tensor2D;
    const thr2 = routeByThreshold(params, shifted, null, { recursion: 1 });
    const topK2 = routeExpertChoice(params, shifted, null, { recursion: 1, numRecursions: 2 });
    expect([...thr2.selected]).toEqual([1, 2, 4, 5]);
    expect(routingAgreement(cand, thr2.selected, topK2.selected)).toMatchObject({
      both: 3,
      thresholdOnly: 1,
      agreement: 5 / 6,
    });
    [topK, thr, thr2, topK2].forEach(dispose);
    tf.dispose([w, h, shifted]);
  });

  it('router logits are row-wise for both architectures', () => {
    const params = routers(1, 'mlp');
    const h = randomH(5, 4);
    const all = scalarRouterLogits(params, expertRouterPrefix(0), h).dataSync();
    const row = tf.slice(h, [3, 0], [1, D]) as tf.Tensor2D;
    const one = scalarRouterLogits(params, expertRouterPrefix(0), row);
    expect(one.dataSync()[0]).toBeCloseTo(all[3]!, 5);
    expect(() => scalarRouterLogits(new Map(), 'nope', h)).toThrow(/no tensor 'nope.fc1.weight'/);
    tf.dispose([h, row, one, ...params.values()]);
  });

  it('routing leaves no tensors behind once its outputs are disposed', () => {
    const params = routers(3, 'mlp');
    const h = randomH(9, 5);
    const before = tf.memory().numTensors;
    const d0 = routeExpertChoice(params, h, null, { recursion: 0, numRecursions: 3 });
    const d1 = routeExpertChoice(params, h, d0.selected, {
      recursion: 1,
      numRecursions: 3,
      scoring: 'softmax',
      step: 3,
      warmupSteps: 10,
    });
    const t1 = routeByThreshold(params, h, d0.selected, { recursion: 1 });
    const blockOut = tf.ones([d1.selected.length, D]) as tf.Tensor2D;
    const next = scatterGatedUpdate(h, d1.selected, blockOut, d1.gate);
    tf.dispose([blockOut, next]);
    [d0, d1, t1].forEach(dispose);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([h, ...params.values()]);
  });
});
