import { beforeAll, describe, expect, it } from 'vitest';
import { gaussianArray, initBackend, tf } from '@recur/tensor';
import { registerGradients } from '@recur/train';
import {
  depthsFromDecisions,
  expertRouterPrefix,
  initScalarRouter,
  routerTensors,
  runExpertChoice,
  scatterGatedUpdate,
  selectionBceLoss,
  type RecursionBlock,
  type RoutingDecision,
} from '../src/index.js';

const D = 6;
const routers = (n: number): Map<string, tf.Tensor> =>
  new Map(
    Array.from({ length: n }, (_, r) => [
      ...routerTensors(initScalarRouter(expertRouterPrefix(r), { hiddenSize: D, std: 1, seed: 20 + r })),
    ]).flat(),
  );
const disposeAll = (ds: readonly RoutingDecision[]): void => ds.forEach((d) => tf.dispose([d.logits, d.gate]));

describe('runExpertChoice (reference MoR loop)', () => {
  let mix: tf.Tensor2D;
  // A row-wise toy block with its own residual: Block(x) = x + x·M (no attention, so rows are independent).
  const block: RecursionBlock = (hSel) => tf.add(hSel, tf.matMul(hSel, mix)) as tf.Tensor2D;
  beforeAll(async () => {
    await initBackend();
    registerGradients();
    mix = tf.tensor2d(
      gaussianArray(D * D, 1).map((x) => x * 0.1),
      [D, D],
    );
  });

  it('top-k mode: depths follow the capacities; rows stop changing once a token leaves', () => {
    const params = routers(3);
    const h0 = tf.tensor2d(gaussianArray(12 * D, 2), [12, D]); // [T, d]
    const before = tf.memory().numTensors;
    let decisions: RoutingDecision[] = [];
    let depths: Int32Array = new Int32Array(0);
    const [h, first] = tf.tidy(() => {
      const run = runExpertChoice(params, h0, block, { numRecursions: 3 });
      ({ decisions, depths } = run);
      for (const d of decisions) {
        tf.keep(d.logits);
        tf.keep(d.gate);
      }
      const d0 = run.decisions[0]!;
      const hSel = tf.gather(h0, tf.tensor1d(d0.selected, 'int32')) as tf.Tensor2D; // [k, d]
      return [run.h, scatterGatedUpdate(h0, d0.selected, block(hSel, 0, d0.selected), d0.gate)];
    });
    expect([...depthsFromDecisions(decisions, 12)]).toEqual([...depths]);
    expect([1, 2, 3].map((k) => depths.filter((x) => x === k).length)).toEqual([4, 4, 4]); // capacities 12, 8, 4
    const out = h.dataSync();
    const afterFirst = first.dataSync();
    for (let t = 0; t < 12; t++) {
      if (depths[t] !== 1) continue;
      for (let c = 0; c < D; c++) expect(out[t * D + c]).toBe(afterFirst[t * D + c]); // bit-identical since recursion 0
    }
    tf.dispose([h, first]);
    disposeAll(decisions);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([h0, ...params.values()]);
  });

  it('threshold mode is causal over the whole loop: a prefix gets the same depths', () => {
    const params = routers(4);
    const h0 = tf.tensor2d(gaussianArray(10 * D, 3), [10, D]);
    const depthsOf = (x: tf.Tensor2D): Int32Array => {
      let depths: Int32Array = new Int32Array(0);
      tf.tidy(() => {
        // the tidy frees every tensor
        depths = runExpertChoice(params, x, block, { numRecursions: 4, mode: 'threshold' }).depths;
      });
      return depths;
    };
    const full = depthsOf(h0);
    expect(new Set(full).size).toBeGreaterThan(1); // the routers do separate tokens
    for (const t of [1, 4, 9]) {
      const prefix = tf.slice(h0, [0, 0], [t, D]) as tf.Tensor2D;
      expect([...depthsOf(prefix)]).toEqual([...full.subarray(0, t)]);
      prefix.dispose();
    }
    tf.dispose([h0, ...params.values()]);
  });

  it('gradients of output + aux BCE reach every recursion’s router, without leaks', () => {
    const params = routers(3);
    const h0 = tf.tensor2d(gaussianArray(9 * D, 4), [9, D]);
    const keys = [0, 1, 2].map((r) => `${expertRouterPrefix(r)}.weight`);
    const before = tf.memory().numTensors;
    const grads = tf.grads((...ws: tf.Tensor[]) =>
      tf.tidy(() => {
        const p = new Map(params);
        keys.forEach((k, i) => p.set(k, ws[i]!));
        const { h, decisions } = runExpertChoice(p, h0, block, { numRecursions: 3 });
        const aux = decisions.map((d) => selectionBceLoss(d.logits, d.selectedMask));
        return tf.add(tf.mean(tf.square(h)), tf.addN(aux)) as tf.Scalar;
      }),
    )(keys.map((k) => params.get(k)!));
    for (const g of grads) {
      const v = [...g.dataSync()];
      expect(v.every(Number.isFinite)).toBe(true);
      expect(Math.max(...v.map(Math.abs))).toBeGreaterThan(1e-6);
    }
    tf.dispose(grads);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([h0, ...params.values()]);
  });
});
