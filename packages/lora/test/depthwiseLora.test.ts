import { beforeAll, describe, expect, it } from 'vitest';
import { adaptedModules, Decoder, layerKey, type LayerCall } from '@recur/graph';
import { initBackend, Mulberry32, tf } from '@recur/tensor';
import { DepthwiseLora, initDepthwiseLora, loopNormKey, loraKey } from '../src/index.js';
import { maxAbsDiff, product, tiedSpec } from './fixtures.js';

beforeAll(async () => {
  await initBackend();
});

const draw = (n: number, random: Mulberry32): Float32Array =>
  Float32Array.from({ length: n }, () => random.next() - 0.5);

describe('keys', () => {
  it('name each (stored layer, module, loop, factor) beside the weight it adapts, and per-loop norms beside theirs', () => {
    expect(loraKey(1, 'self_attn.q_proj', 2, 'A')).toBe('model.layers.1.self_attn.q_proj.lora_A.loop2.weight');
    expect(loraKey(0, 'mlp.down_proj', 0, 'B')).toBe('model.layers.0.mlp.down_proj.lora_B.loop0.weight');
    expect(loopNormKey(3, 'post_attention_layernorm', 1)).toBe('model.layers.3.post_attention_layernorm.loop1.weight');
  });

  it("initDepthwiseLora writes one A and B per shared step and module, and per-loop norms from the step's source layer", () => {
    // MIDDLE-CYCLE, L = 6, N = 2: unique layer 0, block of stored layers 1, 2 looped twice, unique layer 3.
    const { config, source, spec } = tiedSpec(6, 2, 'middle-cycle');
    const lora = initDepthwiseLora({
      plan: spec.plan,
      sourceConfig: config,
      source,
      shared: spec.arrays,
      ranks: { attention: 1, mlp: 1 },
      init: 'svd',
      norms: 'per-loop',
    });
    const shared = spec.plan.steps.filter((s) => s.role === 'shared');
    const expected = shared.flatMap((s) => [
      ...adaptedModules.flatMap((m) => [loraKey(s.unique, m, s.loop, 'A'), loraKey(s.unique, m, s.loop, 'B')]),
      loopNormKey(s.unique, 'input_layernorm', s.loop),
      loopNormKey(s.unique, 'post_attention_layernorm', s.loop),
    ]);
    expect([...lora.keys()].sort()).toEqual(expected.sort());
    expect(new Set(shared.map((s) => s.unique))).toEqual(new Set([1, 2])); // the unique first/last layers get nothing
    for (const s of shared) {
      for (const name of ['input_layernorm', 'post_attention_layernorm'] as const) {
        expect(lora.get(loopNormKey(s.unique, name, s.loop))!.data).toEqual(
          source.get(layerKey(s.sourceLayer, `${name}.weight`)),
        );
      }
    }
    const tied = initDepthwiseLora({
      plan: spec.plan,
      sourceConfig: config,
      source,
      shared: spec.arrays,
      ranks: { attention: 1, mlp: 1 },
      init: 'svd',
      norms: 'tied',
    });
    expect([...tied.keys()].filter((k) => k.includes('layernorm'))).toEqual([]);
  });
});

describe('DepthwiseLora', () => {
  it("adds scale·(x·Aᵀ)·Bᵀ for the call's own (layer, loop), and nothing where it has no factors", () => {
    const random = new Mulberry32(3);
    const [tokens, inputs, outputs, rank] = [3, 8, 6, 2];
    const a = draw(rank * inputs, random); // [r, in]
    const b = draw(outputs * rank, random); // [out, r]
    const x = draw(tokens * inputs, random); // [T, in]
    const y = draw(tokens * outputs, random); // [T, out]
    const ba = product(b, a, outputs, rank, inputs); // [out, in]
    const arrays = new Map([
      [loraKey(1, 'mlp.up_proj', 2, 'A'), { data: a, shape: [rank, inputs] }],
      [loraKey(1, 'mlp.up_proj', 2, 'B'), { data: b, shape: [outputs, rank] }],
    ]);
    const call: LayerCall = { unique: 1, step: 5, loop: 2 };
    for (const scale of [1, 0.5, 2.5]) {
      const lora = DepthwiseLora.fromArrays(arrays, scale);
      expect(lora.scale).toBe(scale);
      const before = tf.memory().numTensors;
      const got = tf.tidy(() =>
        lora.adapt('mlp.up_proj', call, tf.tensor2d(x, [tokens, inputs]), tf.tensor2d(y, [tokens, outputs])).dataSync(),
      );
      expect(tf.memory().numTensors).toBe(before);
      const want = Float64Array.from({ length: tokens * outputs }, (_, i) => {
        const [t, o] = [Math.floor(i / outputs), i % outputs];
        let delta = 0;
        for (let k = 0; k < inputs; k++) delta += ba[o * inputs + k]! * x[t * inputs + k]!;
        return y[i]! + scale * delta;
      });
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
      const untouched = tf.tidy(() =>
        lora
          .adapt(
            'mlp.up_proj',
            { ...call, loop: 1 },
            tf.tensor2d(x, [tokens, inputs]),
            tf.tensor2d(y, [tokens, outputs]),
          )
          .dataSync(),
      );
      expect(untouched).toEqual(y);
      expect(lora.parameterCount).toBe(rank * inputs + outputs * rank);
      lora.dispose();
    }
  });

  it('with full-rank SVD factors and per-loop norms the recursive decoder computes the source model', () => {
    const { config, source, spec } = tiedSpec(4, 2);
    const lora = DepthwiseLora.fromArrays(
      initDepthwiseLora({
        plan: spec.plan,
        sourceConfig: config,
        source,
        shared: spec.arrays,
        ranks: { attention: 'full', mlp: 'full' },
        init: 'svd',
        norms: 'per-loop',
      }),
    );
    const ids = [1, 5, 9, 2, 17, 3];
    const recursive = Decoder.fromArrays(spec.config, spec.arrays, { adapter: lora });
    const original = Decoder.fromArrays(config, source);
    const [got, want] = tf.tidy(() => [recursive.forward(ids).dataSync(), original.forward(ids).dataSync()]);
    expect(maxAbsDiff(got!, want!)).toBeLessThan(1e-4);
    const plain = Decoder.fromArrays(spec.config, spec.arrays);
    expect(
      maxAbsDiff(
        tf.tidy(() => plain.forward(ids).dataSync()),
        want!,
      ),
    ).toBeGreaterThan(1e-2); // tying alone loses it
    for (const d of [recursive, original, plain]) d.dispose();
    lora.dispose();
  });
});
