import { describe, expect, it } from 'vitest';
import {
  inflectionRanking,
  inflectionSteps,
  inflectionTargets,
  loraLayerFilter,
  parseLoraLayers,
  rankedTargets,
  type StepDiagnostics,
} from '../src/index.js';

describe('--lora-layers plumbing', () => {
  it('parses auto or a sorted, de-duplicated list, and refuses anything else', () => {
    expect(parseLoraLayers('auto')).toBe('auto');
    expect(parseLoraLayers('3, 1,3')).toEqual([1, 3]);
    for (const bad of ['', '1,', '-1', '1.5', 'all']) expect(() => parseLoraLayers(bad)).toThrow(/--lora-layers/);
  });

  it('parses auto:K and refuses a K that is not a whole number ≥ 1', () => {
    expect(parseLoraLayers('auto:2')).toEqual({ ranked: 2 });
    for (const bad of ['auto:', 'auto:0', 'auto:-1', 'auto:1.5', 'auto:x', 'auto:2,3'])
      expect(() => parseLoraLayers(bad)).toThrow(/auto:K needs a whole number K ≥ 1/);
  });

  it('narrows adapter tensors to the targets and passes every other name', () => {
    const byLayer = loraLayerFilter({ layers: [1] });
    expect(byLayer('model.layers.1.self_attn.q_proj.lora_A.loop2.weight')).toBe(true);
    expect(byLayer('model.layers.1.input_layernorm.loop0.weight')).toBe(true);
    expect(byLayer('model.layers.0.mlp.down_proj.lora_B.loop0.weight')).toBe(false);
    expect(byLayer('model.layers.0.mlp.down_proj.weight')).toBe(true); // not an adapter: --trainable decides
    expect(byLayer('model.embed_tokens.weight')).toBe(true);
    const byStep = loraLayerFilter({ layers: [1], steps: [{ layer: 1, loop: 2 }] });
    expect(byStep('model.layers.1.self_attn.q_proj.lora_A.loop2.weight')).toBe(true);
    expect(byStep('model.layers.1.self_attn.q_proj.lora_A.loop1.weight')).toBe(false);
  });

  it('auto: the inflection steps of a diagnosis as (layer, loop) targets; none flagged is an error', () => {
    const step = (layer: number, loop: number, index: number): StepDiagnostics => ({
      step: index,
      layer,
      loop,
      attentionEntropy: 1,
      activationGradNorm: 1,
      paramGradNorm: 1,
    });
    const steps = [step(0, 0, 0), step(1, 0, 1), step(1, 1, 2), step(2, 0, 3)];
    const targets = inflectionTargets({ steps, inflectionSteps: [2], inflectionLayers: [1], rule: 'r' });
    expect(targets).toEqual({ layers: [1], steps: [{ layer: 1, loop: 1 }] });
    const filter = loraLayerFilter(targets);
    expect(filter('model.layers.1.mlp.up_proj.lora_B.loop1.weight')).toBe(true);
    expect(filter('model.layers.1.mlp.up_proj.lora_B.loop0.weight')).toBe(false);
    expect(() => inflectionTargets({ steps, inflectionSteps: [], inflectionLayers: [], rule: 'r' })).toThrow(
      /no inflection layer/,
    );
  });

  it('ranks steps: entropy below the median first, then by the relative gradient drop ascending, the top step last', () => {
    // median entropy 2.5: steps 1 and 2 are saturated; ratios g(s)/g(s+1): 0.5, 0.95, 0.8, 1.2, –
    const entropy = [3, 2, 1, 4, 5];
    const grad = [0.5, 1, 0.95, 1.2, 1];
    expect(inflectionRanking(entropy, grad)).toEqual([2, 1, 0, 3, 4]);
    // what the strict rule flags (a drop of more than 10% at a saturated step) ranks first
    const flagged = inflectionSteps(entropy, grad, 0.1);
    expect(flagged).toEqual([2]);
    expect(inflectionRanking(entropy, grad).slice(0, flagged.length)).toEqual(flagged);
    // gradients that grow downward (as on the small models): nothing flagged, the ranking still orders every step
    const growing = [0.37, 0.3, 0.2, 0.15, 0.12];
    expect(inflectionSteps(entropy, growing, 0.1)).toEqual([]);
    expect(inflectionRanking(entropy, growing)).toEqual([2, 1, 0, 3, 4]); // ratios 1.23, 1.5, 1.33, 1.25, –
    // ties by step; a bad input is an error
    expect(inflectionRanking([1, 1, 1], [1, 1, 1])).toEqual([0, 1, 2]);
    expect(() => inflectionRanking([1, 2], [1])).toThrow(/2 entropies for 1/);
    expect(() => inflectionRanking([1, Number.NaN], [1, 1])).toThrow(/non-finite/);
  });

  it('auto:K: the first K ranked steps as (layer, loop) targets; K outside 1..steps is an error', () => {
    const step = (layer: number, loop: number, index: number): StepDiagnostics => ({
      step: index,
      layer,
      loop,
      attentionEntropy: 1,
      activationGradNorm: 1,
      paramGradNorm: 1,
    });
    const steps = [step(0, 0, 0), step(1, 0, 1), step(1, 1, 2), step(2, 0, 3)];
    const diagnosis = { steps, inflectionRanking: [2, 3, 1, 0] };
    expect(rankedTargets(diagnosis, 1)).toEqual({ layers: [1], steps: [{ layer: 1, loop: 1 }] });
    expect(rankedTargets(diagnosis, 3)).toEqual({
      layers: [1, 2],
      steps: [
        { layer: 1, loop: 1 },
        { layer: 2, loop: 0 },
        { layer: 1, loop: 0 },
      ],
    });
    for (const k of [0, 5, 1.5]) expect(() => rankedTargets(diagnosis, k)).toThrow(/K must be 1\.\.4/);
  });
});
