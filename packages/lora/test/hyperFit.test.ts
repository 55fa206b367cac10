import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Mulberry32 } from '@recur/tensor';
import {
  fitGenerator,
  generatorKey,
  hyperFactorsReference,
  initDepthwiseLora,
  initGeneratedLora,
  loopEmbeddingKey,
  loraKey,
  LoraError,
  positionEmbeddingKey,
  sharedSteps,
} from '../src/index.js';
import { maxAbsDiff, tiedSpec } from './fixtures.js';

beforeAll(async () => {
  await initBackend();
});

const draw = (n: number, random: Mulberry32) => Float64Array.from({ length: n }, () => random.next() - 0.5);

/** Float64 reference: G·e for G [m, w] row-major. */
const apply = (g: Float64Array, e: Float64Array) =>
  Float64Array.from({ length: g.length / e.length }, (_, i) =>
    e.reduce((s, ej, j) => s + g[i * e.length + j]! * ej, 0),
  );

/** Float64 reference of the least-squares optimality condition: Σ_k (G·e_k − t_k)·e_kᵀ, [m, w], zero at the optimum. */
function normalResidual(g: Float64Array, targets: Float64Array[], embeddings: Float64Array[]): Float64Array {
  const w = embeddings[0]!.length;
  const out = new Float64Array(g.length);
  embeddings.forEach((e, k) => {
    const r = apply(g, e);
    for (let i = 0; i < r.length; i++) for (let j = 0; j < w; j++) out[i * w + j]! += (r[i]! - targets[k]![i]!) * e[j]!;
  });
  return out;
}

const loss = (g: Float64Array, targets: Float64Array[], embeddings: Float64Array[]) =>
  embeddings.reduce((s, e, k) => s + apply(g, e).reduce((t, v, i) => t + (v - targets[k]![i]!) ** 2, 0), 0);

describe('fitGenerator (hyper generators fitted to per-step targets, float64)', () => {
  it('meets every target exactly when the steps are no more than the embedding width', () => {
    const random = new Mulberry32(3);
    const embeddings = Array.from({ length: 3 }, () => draw(5, random));
    const targets = Array.from({ length: 3 }, () => draw(7, random));
    const g = fitGenerator(targets, embeddings);
    for (const [k, e] of embeddings.entries()) expect(maxAbsDiff(apply(g, e), targets[k]!)).toBeLessThan(1e-10);
  });

  it('with more steps than the width, solves the normal equations: no perturbation lowers the squared error', () => {
    const random = new Mulberry32(4);
    const embeddings = Array.from({ length: 6 }, () => draw(3, random));
    const targets = Array.from({ length: 6 }, () => draw(4, random));
    const g = fitGenerator(targets, embeddings);
    expect(Math.max(...normalResidual(g, targets, embeddings).map(Math.abs))).toBeLessThan(1e-10);
    const best = loss(g, targets, embeddings);
    for (let trial = 0; trial < 5; trial++) {
      const nudged = Float64Array.from(g, (v) => v + 1e-3 * (random.next() - 0.5));
      expect(loss(nudged, targets, embeddings)).toBeGreaterThan(best);
    }
  });

  it('with dependent embeddings ([loop ; position] for 2 × 2 steps), still solves the normal equations', () => {
    const random = new Mulberry32(5);
    const [l0, l1, p0, p1] = Array.from({ length: 4 }, () => draw(2, random));
    const cat = (a: Float64Array, b: Float64Array) => Float64Array.from([...a, ...b]);
    const embeddings = [cat(l0!, p0!), cat(l0!, p1!), cat(l1!, p0!), cat(l1!, p1!)]; // rank 3 of 4
    const targets = Array.from({ length: 4 }, () => draw(5, random));
    const g = fitGenerator(targets, embeddings);
    expect(Math.max(...normalResidual(g, targets, embeddings).map(Math.abs))).toBeLessThan(1e-9);
  });

  it('refuses mismatched sizes and all-zero embeddings with a LoraError', () => {
    const e = Float64Array.from([1, 2, 3]);
    expect(() => fitGenerator([new Float64Array(2)], [e, e])).toThrow(LoraError);
    expect(() => fitGenerator([new Float64Array(2)], [new Float64Array(3)])).toThrow(/zero/);
  });
});

describe('hyper --lora-init svd', () => {
  const setup = (layers: number) => {
    const { config, source, spec: tied } = tiedSpec(layers, 2);
    const options = {
      plan: tied.plan,
      sourceConfig: config,
      source,
      shared: tied.arrays,
      ranks: { attention: 2, mlp: 2 },
    };
    return { config, tied, options };
  };
  const generatedFactors = (
    config: { intermediateSize: number; hiddenSize: number },
    arrays: Map<string, { data: Float32Array }>,
    unique: number,
    loop: number,
    module: 'mlp.up_proj',
  ) => {
    const f = (key: string) => Float64Array.from(arrays.get(key)!.data);
    const h = arrays.get(loopEmbeddingKey)!.data.length / 2; // two loops
    const loopRow = f(loopEmbeddingKey).subarray(loop * h, (loop + 1) * h);
    const [rows, cols] = [config.intermediateSize, config.hiddenSize];
    return hyperFactorsReference(
      f(generatorKey(module, 'A')),
      f(generatorKey(module, 'B')),
      loopRow,
      f(positionEmbeddingKey(unique)),
      [rows, 2, cols],
    );
  };

  it('generates every step’s depth-wise SVD factors where the steps are independent (1 layer × 2 loops, H = 2)', () => {
    const { config, tied, options } = setup(2);
    const svd = initDepthwiseLora({ ...options, init: 'svd', norms: 'tied' });
    const arrays = initGeneratedLora({ ...options, spec: { kind: 'hyper', hyperDim: 2 }, init: 'svd', norms: 'tied' });
    for (const step of sharedSteps(tied.plan)) {
      const got = generatedFactors(config, arrays, step.unique, step.loop, 'mlp.up_proj');
      const want = (factor: 'A' | 'B') =>
        Float64Array.from(svd.get(loraKey(step.unique, 'mlp.up_proj', step.loop, factor))!.data);
      expect(maxAbsDiff(got.a, want('A'))).toBeLessThan(1e-4);
      expect(maxAbsDiff(got.b, want('B'))).toBeLessThan(1e-4);
    }
  });

  it('zero init keeps G_B = 0 (the tied model); 2 layers × 2 loops (dependent embeddings), H = 1: the least-squares fit', () => {
    const { tied, options } = setup(4);
    const zero = initGeneratedLora({ ...options, spec: { kind: 'hyper', hyperDim: 2 }, init: 'zero', norms: 'tied' });
    expect(zero.get(generatorKey('mlp.up_proj', 'B'))!.data.every((v) => v === 0)).toBe(true);
    const narrow = initGeneratedLora({ ...options, spec: { kind: 'hyper', hyperDim: 1 }, init: 'svd', norms: 'tied' });
    const svd = initDepthwiseLora({ ...options, init: 'svd', norms: 'tied' });
    const steps = sharedSteps(tied.plan);
    const loops = narrow.get(loopEmbeddingKey)!.data;
    const embeddings = steps.map((s) =>
      Float64Array.from([loops[s.loop]!, narrow.get(positionEmbeddingKey(s.unique))!.data[0]!]),
    );
    const targets = steps.map((s) => Float64Array.from(svd.get(loraKey(s.unique, 'mlp.up_proj', s.loop, 'B'))!.data));
    const g = Float64Array.from(narrow.get(generatorKey('mlp.up_proj', 'B'))!.data);
    const scale = Math.max(...targets.flatMap((t) => [...t].map(Math.abs)));
    expect(Math.max(...normalResidual(g, targets, embeddings).map(Math.abs))).toBeLessThan(1e-5 * scale);
  });
});
