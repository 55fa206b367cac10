import { beforeAll, describe, expect, it } from 'vitest';
import { adaptedModules, executionSteps, type LayerCall } from '@recur/graph';
import { gaussianArray, initBackend, tf } from '@recur/tensor';
import {
  DepthwiseLora,
  freshLora,
  fromPeftAdapter,
  LoraError,
  loopNormKey,
  loraKey,
  sumLoras,
  toPeftAdapter,
} from '../src/index.js';
import { tinyConfig } from './fixtures.js';

beforeAll(async () => {
  await initBackend();
});

/** A LoRA with non-zero B for every step of a config (layer order given: a recursive run). */
function randomLora(rank: number, seed: number, scale: number, order?: number[]): DepthwiseLora {
  const config = { ...tinyConfig(2), ...(order && { layerOrder: order }) };
  const arrays = freshLora({ config, rank, seed });
  for (const [key, t] of arrays)
    if (key.includes('.lora_B.'))
      arrays.set(key, { data: gaussianArray(t.data.length, seed + key.length), shape: t.shape });
  return DepthwiseLora.fromArrays(arrays, scale);
}

const call = (unique: number, loop: number, step: number): LayerCall => ({ unique, loop, step });

describe('sumLoras', () => {
  it('adds the deltas of adapters of different ranks and scales exactly (rank concatenation)', () => {
    const before = tf.memory().numTensors;
    const first = randomLora(2, 1, 0.5);
    const second = randomLora(3, 2, 2);
    const sum = sumLoras([first, second]);
    expect(sum.scale).toBe(1);
    tf.tidy(() => {
      for (const module of adaptedModules) {
        const a = sum.tensors.get(loraKey(1, module, 0, 'A'))!;
        expect(a.shape[0]).toBe(5);
        const x = tf.randomNormal([3, a.shape[1]!], 0, 1, 'float32', 7) as tf.Tensor2D; // [T, in]
        const y = tf.zeros([3, sum.tensors.get(loraKey(1, module, 0, 'B'))!.shape[0]!]) as tf.Tensor2D; // [T, out]
        const chained = first.adapt(module, call(1, 0, 1), x, second.adapt(module, call(1, 0, 1), x, y));
        const summed = sum.adapt(module, call(1, 0, 1), x, y);
        expect(tf.max(tf.abs(tf.sub(chained, summed))).dataSync()[0]).toBeLessThan(1e-5);
      }
    });
    for (const lora of [first, second, sum]) lora.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('keeps the first per-loop norm it finds and refuses adapters of another width', () => {
    const norm = tf.ones([8]);
    const own = new DepthwiseLora(new Map([[loopNormKey(0, 'input_layernorm', 1), norm]]));
    const sum = sumLoras([own, randomLora(1, 3, 1)]);
    expect(sum.norm('input_layernorm', call(0, 1, 2))?.dataSync()).toEqual(norm.dataSync());
    sum.dispose();
    own.dispose();
    const wide = new DepthwiseLora(
      new Map([
        [loraKey(0, 'self_attn.q_proj', 0, 'A'), tf.zeros([1, 16])],
        [loraKey(0, 'self_attn.q_proj', 0, 'B'), tf.zeros([8, 1])],
      ]),
    );
    const narrow = randomLora(1, 4, 1);
    expect(() => sumLoras([wide, narrow])).toThrow(LoraError);
    wide.dispose();
    narrow.dispose();
  });
});

describe('PEFT adapters over the steps of a recursive model', () => {
  it('read back per (layer, loop): PEFT layer i is executed step i', () => {
    const order = [0, 1, 0, 1]; // two stored layers looped twice
    const lora = randomLora(2, 5, 1, order);
    const steps = executionSteps({ numLayers: 2, layerOrder: order });
    const peft = toPeftAdapter(lora, steps, 'base');
    expect([...peft.tensors.keys()].some((k) => k.includes('.layers.3.'))).toBe(true);
    const back = fromPeftAdapter(peft, steps);
    for (const [key, t] of lora.tensors) expect(back.tensors.get(key)?.dataSync()).toEqual(t.dataSync());
    expect(() => fromPeftAdapter(peft, steps.slice(0, 2))).toThrow(/adapts step/);
    lora.dispose();
    back.dispose();
  });
});
