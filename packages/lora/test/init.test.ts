import { beforeAll, describe, expect, it } from 'vitest';
import { adaptedModules, layerKey, layerWeightSpecs, recursiveFromPretrained } from '@recur/graph';
import { initBackend } from '@recur/tensor';
import { initDepthwiseLora, LoraError, loraKey, type TruncationEnergy } from '../src/index.js';
import { matrixWithSpectrum, maxAbsDiff, product, randomSource, tiedSpec, tinyConfig } from './fixtures.js';

beforeAll(async () => {
  await initBackend();
});

const shapeOf = (module: string): [number, number] => {
  const spec = layerWeightSpecs(tinyConfig(1), 0).find((s) => s.name.endsWith(`.${module}.weight`))!;
  return [spec.shape[0]!, spec.shape[1]!];
};

describe('SVD initialisation', () => {
  it('at full rank W_shared + B·A equals W_orig of the source layer, for every shared step and module', () => {
    for (const strategy of ['cycle', 'middle-cycle'] as const) {
      const { config, source, spec } = tiedSpec(strategy === 'cycle' ? 4 : 6, 2, strategy);
      const lora = initDepthwiseLora({
        plan: spec.plan,
        sourceConfig: config,
        source,
        shared: spec.arrays,
        ranks: { attention: 'full', mlp: 'full' },
        init: 'svd',
      });
      const shared = spec.plan.steps.filter((s) => s.role === 'shared');
      expect(shared.length).toBe(4);
      for (const step of shared) {
        for (const module of adaptedModules) {
          const [rows, cols] = shapeOf(module);
          const rank = Math.min(rows, cols);
          const a = lora.get(loraKey(step.unique, module, step.loop, 'A'))!;
          const b = lora.get(loraKey(step.unique, module, step.loop, 'B'))!;
          expect([a.shape, b.shape]).toEqual([
            [rank, cols],
            [rows, rank],
          ]);
          const w = spec.arrays.get(layerKey(step.unique, `${module}.weight`))!;
          const rebuilt = product(b.data, a.data, rows, rank, cols).map((x, i) => x + w[i]!);
          expect(
            maxAbsDiff(rebuilt, source.get(layerKey(step.sourceLayer, `${module}.weight`))!),
            `${strategy} ${module} layer ${step.unique} loop ${step.loop}`,
          ).toBeLessThan(1e-5);
        }
      }
    }
  });

  it('a truncated rank keeps the top singular directions of the residual, and reports their energy', () => {
    // L = 2, N = 2, average init: shared = (W0 + W1)/2, so W0 = base + D, W1 = base − D gives residuals ±D.
    const config = tinyConfig(2);
    const source = randomSource(config, 5);
    const [rows, cols] = shapeOf('self_attn.q_proj');
    const s = [5, 3, 2, 1, 0.5, 0.25, 0.1, 0.05];
    const d = matrixWithSpectrum(rows, cols, s, 9);
    const base = source.get(layerKey(0, 'self_attn.q_proj.weight'))!;
    source.set(
      layerKey(0, 'self_attn.q_proj.weight'),
      base.map((x, i) => x + d[i]!),
    );
    source.set(
      layerKey(1, 'self_attn.q_proj.weight'),
      base.map((x, i) => x - d[i]!),
    );
    const spec = recursiveFromPretrained(config, source, { loops: 2, strategy: 'cycle', init: 'average' });
    const energies: TruncationEnergy[] = [];
    const rank = 3;
    const lora = initDepthwiseLora({
      plan: spec.plan,
      sourceConfig: config,
      source,
      shared: spec.arrays,
      ranks: { attention: rank, mlp: 2 },
      init: 'svd',
      onEnergy: (e) => energies.push(e),
    });
    const best = matrixWithSpectrum(rows, cols, s, 9, rank); // same U, V: the best rank-3 part of D
    expect(maxAbsDiff(best, d)).toBeGreaterThan(0.05); // the truncation really drops something
    for (const [loop, sign] of [
      [0, 1],
      [1, -1],
    ] as const) {
      const a = lora.get(loraKey(0, 'self_attn.q_proj', loop, 'A'))!;
      const b = lora.get(loraKey(0, 'self_attn.q_proj', loop, 'B'))!;
      const ba = product(b.data, a.data, rows, rank, cols);
      expect(
        maxAbsDiff(
          ba,
          best.map((x) => sign * x),
        ),
      ).toBeLessThan(1e-5);
      // B = U·diag(S): column norms are the kept singular values, descending.
      const norms = Array.from({ length: rank }, (_, j) =>
        Math.hypot(...Array.from({ length: rows }, (_, o) => b.data[o * rank + j]!)),
      );
      norms.forEach((n, j) => expect(n).toBeCloseTo(s[j]!, 4));
    }
    const total = s.reduce((acc, x) => acc + x * x, 0);
    const kept = s.slice(0, rank).reduce((acc, x) => acc + x * x, 0);
    const q = energies.filter((e) => e.name.endsWith('q_proj.loop0') || e.name.endsWith('q_proj.loop1'));
    expect(q.map((e) => [e.name, e.sourceLayer, e.rank])).toEqual([
      ['model.layers.0.self_attn.q_proj.loop0', 0, 3],
      ['model.layers.0.self_attn.q_proj.loop1', 1, 3],
    ]);
    q.forEach((e) => expect(e.captured).toBeCloseTo(kept / total, 5));
    // ‖R‖_F² = Σ sᵢ² (the residual of either loop is ±D)
    q.forEach((e) => expect(e.residualEnergy / total).toBeCloseTo(1, 5));
    expect(energies.length).toBe(2 * adaptedModules.length);
  });

  it('zero init starts from B = 0 (no change) with a seeded, non-zero A', () => {
    const { config, source, spec } = tiedSpec(4, 2);
    const opts = {
      plan: spec.plan,
      sourceConfig: config,
      source,
      shared: spec.arrays,
      ranks: { attention: 2, mlp: 3 },
      init: 'zero',
      seed: 4,
    } as const;
    const lora = initDepthwiseLora(opts);
    const again = initDepthwiseLora(opts);
    for (const [key, t] of lora) {
      if (key.includes('lora_B')) expect(t.data.every((x) => x === 0)).toBe(true);
      else expect(t.data.some((x) => x !== 0)).toBe(true);
      expect(again.get(key)!.data).toEqual(t.data);
    }
    const a0 = lora.get(loraKey(0, 'self_attn.q_proj', 0, 'A'))!.data;
    const a1 = lora.get(loraKey(0, 'self_attn.q_proj', 1, 'A'))!.data;
    expect(maxAbsDiff(a0, a1)).toBeGreaterThan(0); // each adapter draws its own A
  });
});

describe('ranks per module group', () => {
  it('attention modules take the attention rank, MLP modules the MLP rank; full = min(out, in); 0 = no adapter', () => {
    const { config, source, spec } = tiedSpec(4, 2);
    const base = { plan: spec.plan, sourceConfig: config, source, shared: spec.arrays, init: 'svd' } as const;
    const lora = initDepthwiseLora({ ...base, ranks: { attention: 3, mlp: 'full' } });
    for (const module of adaptedModules) {
      const [rows, cols] = shapeOf(module);
      const rank = module.startsWith('mlp.') ? Math.min(rows, cols) : 3;
      expect(lora.get(loraKey(1, module, 1, 'A'))!.shape, module).toEqual([rank, cols]);
      expect(lora.get(loraKey(1, module, 1, 'B'))!.shape, module).toEqual([rows, rank]);
    }
    const attentionOnly = initDepthwiseLora({ ...base, ranks: { attention: 'full', mlp: 0 } });
    expect([...attentionOnly.keys()].filter((k) => k.includes('.mlp.'))).toEqual([]);
    expect(attentionOnly.size).toBe(2 * 2 * 4 * 2); // 2 stored layers × 2 loops × 4 attention modules × (A, B)
    expect(initDepthwiseLora({ ...base, ranks: { attention: 0, mlp: 0 } }).size).toBe(0);
  });

  it('refuses a rank that does not fit a module with a LoraError naming the module, its shape and the limit', () => {
    const { config, source, spec } = tiedSpec(4, 2);
    const base = { plan: spec.plan, sourceConfig: config, source, shared: spec.arrays, init: 'svd' } as const;
    expect(() => initDepthwiseLora({ ...base, ranks: { attention: 5, mlp: 2 } })).toThrow(LoraError);
    expect(() => initDepthwiseLora({ ...base, ranks: { attention: 5, mlp: 2 } })).toThrow(
      'self_attn.k_proj [4, 8] (at most 4)',
    );
    expect(() => initDepthwiseLora({ ...base, ranks: { attention: 2, mlp: 9 } })).toThrow(
      'mlp.gate_proj [12, 8] (at most 8)',
    );
    expect(() => initDepthwiseLora({ ...base, ranks: { attention: 1.5, mlp: 2 } })).toThrow(LoraError);
    expect(() => initDepthwiseLora({ ...base, ranks: { attention: -1, mlp: 2 } })).toThrow(LoraError);
  });
});

describe('per-loop norms', () => {
  it("per-loop norms need the source layer's norm weights: a LoraError names the missing key", () => {
    const { config, source, spec } = tiedSpec(4, 2);
    source.delete(layerKey(2, 'post_attention_layernorm.weight'));
    const options = {
      plan: spec.plan,
      sourceConfig: config,
      source,
      shared: spec.arrays,
      ranks: { attention: 1, mlp: 1 },
      init: 'svd',
      norms: 'per-loop',
    } as const;
    expect(() => initDepthwiseLora(options)).toThrow(LoraError);
    expect(() => initDepthwiseLora(options)).toThrow('model.layers.2.post_attention_layernorm.weight');
  });
});
