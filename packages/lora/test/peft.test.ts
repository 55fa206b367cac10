import { beforeAll, describe, expect, it } from 'vitest';
import { adaptedModules, Decoder, unrollRecursive } from '@recur/graph';
import { initBackend, tf } from '@recur/tensor';
import {
  DepthwiseLora,
  fromPeftAdapter,
  initDepthwiseLora,
  LoraError,
  loraKey,
  toPeftAdapter,
  type PeftAdapter,
} from '../src/index.js';
import { maxAbsDiff, tiedSpec } from './fixtures.js';

beforeAll(async () => {
  await initBackend();
});

const ids = [1, 7, 3, 22, 9, 14, 5];

/** CYCLE L = 4, N = 2 (stored layers 0, 1; steps 0..3), attention rank 2, MLP rank 3, tied norms. */
function adapted(scale: number) {
  const { config, source, spec } = tiedSpec(4, 2, 'cycle', 6);
  const arrays = initDepthwiseLora({
    plan: spec.plan,
    sourceConfig: config,
    source,
    shared: spec.arrays,
    ranks: { attention: 2, mlp: 3 },
    init: 'svd',
    norms: 'tied',
  });
  return { spec, lora: DepthwiseLora.fromArrays(arrays, scale) };
}

describe('PEFT adapters', () => {
  it('export one LoRA per unrolled step with PEFT keys and an adapter_config that carries every rank and alpha', () => {
    const { spec, lora } = adapted(0.5);
    const { steps } = unrollRecursive(spec.config, spec.arrays);
    const { config, tensors } = toPeftAdapter(lora, steps, 'out/base');
    expect(config).toMatchObject({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: 'out/base',
      lora_dropout: 0,
      bias: 'none',
      fan_in_fan_out: false,
      inference_mode: true,
      use_rslora: false,
      r: 2,
      lora_alpha: 1, // the most common rank (4 attention modules vs 3 MLP ones), alpha = scale · r
    });
    expect(config.target_modules).toEqual([
      'down_proj',
      'gate_proj',
      'k_proj',
      'o_proj',
      'q_proj',
      'up_proj',
      'v_proj',
    ]);
    expect(Object.keys(config.rank_pattern).length).toBe(4 * adaptedModules.length);
    for (const call of steps) {
      for (const module of adaptedModules) {
        const path = `model.layers.${call.step}.${module}`;
        const rank = module.startsWith('mlp.') ? 3 : 2;
        expect(config.rank_pattern[path], path).toBe(rank);
        expect(config.alpha_pattern[path], path).toBe(0.5 * rank);
        const a = tensors.get(`base_model.model.${path}.lora_A.weight`)!;
        const b = tensors.get(`base_model.model.${path}.lora_B.weight`)!;
        expect(a.data).toEqual(lora.tensors.get(loraKey(call.unique, module, call.loop, 'A'))!.dataSync());
        expect(b.data).toEqual(lora.tensors.get(loraKey(call.unique, module, call.loop, 'B'))!.dataSync());
        expect([a.shape[0], b.shape[1]]).toEqual([rank, rank]);
      }
    }
    expect(tensors.size).toBe(4 * adaptedModules.length * 2);
    lora.dispose();
  });

  it('round trip: the imported adapter on the unrolled base computes the adapted recursive model, with the same scale', () => {
    for (const scale of [1, 0.5]) {
      const { spec, lora } = adapted(scale);
      const unrolled = unrollRecursive(spec.config, spec.arrays);
      const imported = fromPeftAdapter(toPeftAdapter(lora, unrolled.steps, ''));
      expect(imported.scale).toBe(scale);
      for (const call of unrolled.steps) {
        for (const f of ['A', 'B'] as const) {
          expect(imported.tensors.get(loraKey(call.step, 'mlp.down_proj', 0, f))!.dataSync()).toEqual(
            lora.tensors.get(loraKey(call.unique, 'mlp.down_proj', call.loop, f))!.dataSync(),
          );
        }
      }
      const recursive = Decoder.fromArrays(spec.config, spec.arrays, { adapter: lora });
      const plain = Decoder.fromArrays(unrolled.config, unrolled.arrays, { adapter: imported });
      const [got, want] = tf.tidy(() => [plain.forward(ids).dataSync(), recursive.forward(ids).dataSync()]);
      expect(maxAbsDiff(got!, want!)).toBeLessThan(1e-4);
      for (const d of [recursive, plain]) d.dispose();
      lora.dispose();
      imported.dispose();
    }
  });

  it('import reads alpha / r per module from alpha_pattern and rank_pattern (keys may end the module path), else lora_alpha', () => {
    const factor = (rows: number, cols: number) => ({
      data: new Float32Array(rows * cols).fill(0.1),
      shape: [rows, cols],
    });
    const adapter = (config: Partial<PeftAdapter['config']>): PeftAdapter => ({
      config: { ...toPeftAdapter(new DepthwiseLora(new Map()), [], '').config, r: 8, lora_alpha: 16, ...config },
      tensors: new Map([
        ['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', factor(4, 8)],
        ['base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight', factor(8, 4)],
        ['base_model.model.model.layers.1.mlp.up_proj.lora_A.weight', factor(2, 8)],
        ['base_model.model.model.layers.1.mlp.up_proj.lora_B.weight', factor(12, 2)],
      ]),
    });
    const scaleOf = (config: Partial<PeftAdapter['config']>) => {
      const lora = fromPeftAdapter(adapter(config));
      lora.dispose();
      return lora.scale;
    };
    expect(scaleOf({ alpha_pattern: { 'model.layers.0.self_attn.q_proj': 12, up_proj: 6 } })).toBe(3); // 12/4 and 6/2
    expect(() => scaleOf({ lora_alpha: 8 })).toThrow(LoraError); // 8/4 ≠ 8/2: one scale only
    expect(() => scaleOf({ lora_alpha: 8 })).toThrow('different alpha / r (2, 4)');
    expect(() => scaleOf({ use_rslora: true })).toThrow(/rsLoRA/);
    const bad = adapter({});
    bad.tensors.set('base_model.model.model.layers.0.self_attn.rotary_emb.lora_A.weight', factor(4, 8));
    expect(() => fromPeftAdapter(bad)).toThrow(LoraError);
    expect(() => fromPeftAdapter(bad)).toThrow('rotary_emb');
  });
});
