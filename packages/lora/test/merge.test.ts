import { beforeAll, describe, expect, it } from 'vitest';
import { adaptedModules, Decoder, layerKey, layerWeightSpecs, unrollRecursive } from '@recur/graph';
import { initBackend, tf } from '@recur/tensor';
import { DepthwiseLora, initDepthwiseLora, LoraError, loopNormKey, loraKey, mergeDepthwiseLora } from '../src/index.js';
import { maxAbsDiff, product, tiedSpec } from './fixtures.js';

beforeAll(async () => {
  await initBackend();
});

const ids = [1, 7, 3, 22, 9, 14, 5];

/** MIDDLE-CYCLE L = 6, N = 2 with truncated SVD LoRA (rank 2), per-loop norms and scale 0.5. */
function adapted() {
  const { config, source, spec } = tiedSpec(6, 2, 'middle-cycle', 4);
  const arrays = initDepthwiseLora({
    plan: spec.plan,
    sourceConfig: config,
    source,
    shared: spec.arrays,
    ranks: { attention: 2, mlp: 2 },
    init: 'svd',
    norms: 'per-loop',
  });
  return { spec, lora: DepthwiseLora.fromArrays(arrays, 0.5) };
}

describe('mergeDepthwiseLora', () => {
  it('gives a plain unrolled decoder with the logits of the adapted recursive one', () => {
    const { spec, lora } = adapted();
    const unrolled = unrollRecursive(spec.config, spec.arrays);
    const merged = mergeDepthwiseLora(unrolled.arrays, unrolled.steps, lora);
    const recursive = Decoder.fromArrays(spec.config, spec.arrays, { adapter: lora });
    const plain = Decoder.fromArrays(unrolled.config, merged);
    const base = Decoder.fromArrays(unrolled.config, unrolled.arrays);
    const [got, want, unadapted] = tf.tidy(() => [
      plain.forward(ids).dataSync(),
      recursive.forward(ids).dataSync(),
      base.forward(ids).dataSync(),
    ]);
    expect(maxAbsDiff(got!, want!)).toBeLessThan(1e-4);
    expect(maxAbsDiff(unadapted!, want!)).toBeGreaterThan(1e-2); // the adapters matter
    for (const d of [recursive, plain, base]) d.dispose();
    lora.dispose();
  });

  it("round trip: merged − scale·B·A gives back each step's shared weight; the input arrays stay untouched", () => {
    const { spec, lora } = adapted();
    const unrolled = unrollRecursive(spec.config, spec.arrays);
    const snapshot = new Map([...unrolled.arrays].map(([k, v]) => [k, v.slice()]));
    const merged = mergeDepthwiseLora(unrolled.arrays, unrolled.steps, lora);
    // steps share arrays: merging must copy
    for (const [key, data] of unrolled.arrays) expect(data, key).toEqual(snapshot.get(key));
    for (const call of unrolled.steps) {
      const adaptedStep = lora.tensors.has(loraKey(call.unique, 'self_attn.q_proj', call.loop, 'A'));
      // MIDDLE-CYCLE's unique first/last layers have no LoRA
      expect(adaptedStep).toBe(call.unique === 1 || call.unique === 2);
      for (const module of adaptedModules) {
        const key = layerKey(call.step, `${module}.weight`);
        if (!adaptedStep) {
          expect(merged.get(key)).toBe(unrolled.arrays.get(key));
          continue;
        }
        const a = lora.tensors.get(loraKey(call.unique, module, call.loop, 'A'))!;
        const b = lora.tensors.get(loraKey(call.unique, module, call.loop, 'B'))!;
        const [rows, rank, cols] = [b.shape[0]!, a.shape[0]!, a.shape[1]!];
        const ba = product(b.dataSync(), a.dataSync(), rows, rank, cols);
        const unmerged = merged.get(key)!.map((w, i) => w - 0.5 * ba[i]!);
        expect(maxAbsDiff(unmerged, unrolled.arrays.get(key)!), key).toBeLessThan(1e-6);
        expect(maxAbsDiff(merged.get(key)!, unrolled.arrays.get(key)!), key).toBeGreaterThan(1e-3);
      }
      for (const name of ['input_layernorm', 'post_attention_layernorm'] as const) {
        const norm = lora.tensors.get(loopNormKey(call.unique, name, call.loop));
        expect(merged.get(layerKey(call.step, `${name}.weight`)), name).toEqual(
          norm ? norm.dataSync() : unrolled.arrays.get(layerKey(call.step, `${name}.weight`)),
        );
      }
    }
    lora.dispose();
  });

  it('refuses an unrolled model that lacks a weight the adapters need, with a LoraError naming it', () => {
    const { spec, lora } = adapted();
    const unrolled = unrollRecursive(spec.config, spec.arrays);
    const missing = layerKey(3, 'mlp.up_proj.weight');
    const arrays = new Map(unrolled.arrays);
    arrays.delete(missing);
    expect(layerWeightSpecs(unrolled.config, 3).some((s) => s.name === missing)).toBe(true);
    expect(() => mergeDepthwiseLora(arrays, unrolled.steps, lora)).toThrow(LoraError);
    expect(() => mergeDepthwiseLora(arrays, unrolled.steps, lora)).toThrow(missing);
    lora.dispose();
  });

  it('refuses factors whose B·A does not have the shape of the weight they adapt (no silent NaN weights)', () => {
    const { spec, lora } = adapted();
    const unrolled = unrollRecursive(spec.config, spec.arrays);
    const key = loraKey(1, 'mlp.down_proj', 0, 'A');
    const tensors = new Map(lora.tensors);
    tensors.set(key, tf.zeros([2, 8])); // down_proj's input is 12 wide, so A must be [r, 12]
    const wrong = new DepthwiseLora(tensors, 0.5);
    expect(() => mergeDepthwiseLora(unrolled.arrays, unrolled.steps, wrong)).toThrow(LoraError);
    expect(() => mergeDepthwiseLora(unrolled.arrays, unrolled.steps, wrong)).toThrow(
      /model\.layers\.1\.mlp\.down_proj\.weight/,
    );
    tensors.get(key)!.dispose();
    lora.dispose();
  });
});
