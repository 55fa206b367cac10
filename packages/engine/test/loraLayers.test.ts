import { describe, expect, it } from 'vitest';
import { inflectionTargets, loraLayerFilter, parseLoraLayers, type StepDiagnostics } from '../src/index.js';

describe('--lora-layers plumbing', () => {
  it('parses auto or a sorted, de-duplicated list, and refuses anything else', () => {
    expect(parseLoraLayers('auto')).toBe('auto');
    expect(parseLoraLayers('3, 1,3')).toEqual([1, 3]);
    for (const bad of ['', '1,', '-1', '1.5', 'all']) expect(() => parseLoraLayers(bad)).toThrow(/--lora-layers/);
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
});
