import { beforeAll, describe, expect, it } from 'vitest';
import { Decoder, executionSteps, layerKey, type LayerCall } from '@recur/graph';
import { initBackend, Mulberry32, tf } from '@recur/tensor';
import {
  GeneratedLora,
  generatorKey,
  hyperFactors,
  hyperFactorsReference,
  initGeneratedLora,
  initScaledLora,
  loopEmbeddingKey,
  positionEmbeddingKey,
  scaledDeltaReference,
  scaledFactors,
  loopScaleKey,
  templateKey,
  type LoraKindSpec,
} from '../src/index.js';
import { maxAbsDiff, product, tiedSpec } from './fixtures.js';

beforeAll(async () => {
  await initBackend();
});

const draw = (n: number, random: Mulberry32): Float32Array =>
  Float32Array.from({ length: n }, () => random.next() - 0.5);
const f64 = (x: Float32Array) => Float64Array.from(x);

describe('hyper LoRA op', () => {
  it('generates A and B from [loop embedding ; position embedding] as the float64 reference does', () => {
    const random = new Mulberry32(3);
    const [outputs, r, inputs, h, loops] = [6, 2, 5, 3, 4];
    const arrays = {
      genA: draw(r * inputs * 2 * h, random),
      genB: draw(outputs * r * 2 * h, random),
      loops: draw(loops * h, random),
      position: draw(h, random),
    };
    const tensors = new Map<string, tf.Tensor>([
      [generatorKey('self_attn.q_proj', 'A'), tf.tensor(arrays.genA, [r, inputs, 2 * h])],
      [generatorKey('self_attn.q_proj', 'B'), tf.tensor(arrays.genB, [outputs, r, 2 * h])],
      [loopEmbeddingKey, tf.tensor(arrays.loops, [loops, h])],
      [positionEmbeddingKey(1), tf.tensor(arrays.position, [h])],
    ]);
    const before = tf.memory().numTensors;
    for (let loop = 0; loop < loops; loop++) {
      const factors = hyperFactors(tensors, 1, 'self_attn.q_proj', loop)!;
      const want = hyperFactorsReference(
        f64(arrays.genA),
        f64(arrays.genB),
        f64(arrays.loops.slice(loop * h, (loop + 1) * h)),
        f64(arrays.position),
        [outputs, r, inputs],
      );
      expect(factors.a.shape).toEqual([r, inputs]);
      expect(factors.b.shape).toEqual([outputs, r]);
      expect(maxAbsDiff(factors.a.dataSync(), want.a)).toBeLessThan(1e-6);
      expect(maxAbsDiff(factors.b.dataSync(), want.b)).toBeLessThan(1e-6);
      tf.dispose([factors.a, factors.b]);
    }
    expect(hyperFactors(tensors, 0, 'self_attn.q_proj', 0)).toBeUndefined(); // no position embedding: no adapter
    expect(hyperFactors(tensors, 1, 'self_attn.q_proj', loops)).toBeUndefined(); // past the stored loops
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...tensors.values()]);
  });
});

describe('scaled LoRA op', () => {
  it("gives loop k the delta s_k·B·A of its position's template, as the float64 reference", () => {
    const random = new Mulberry32(5);
    const [outputs, r, inputs, loops] = [4, 2, 3, 3];
    const a = draw(r * inputs, random);
    const b = draw(outputs * r, random);
    const scales = draw(loops, random);
    const tensors = new Map<string, tf.Tensor>([
      [templateKey(0, 'mlp.up_proj', 'A'), tf.tensor(a, [r, inputs])],
      [templateKey(0, 'mlp.up_proj', 'B'), tf.tensor(b, [outputs, r])],
      [loopScaleKey(0, 'mlp.up_proj'), tf.tensor(scales, [loops])],
    ]);
    const before = tf.memory().numTensors;
    for (let loop = 0; loop < loops; loop++) {
      const got = tf.tidy(() => {
        const f = scaledFactors(tensors, 0, 'mlp.up_proj', loop)!;
        return tf.matMul(f.b, f.a).dataSync(); // [out, in]
      });
      const want = scaledDeltaReference(f64(a), f64(b), f64(scales), loop, [outputs, r, inputs]);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-6);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...tensors.values()]);
  });
});

const kinds: LoraKindSpec[] = [{ kind: 'hyper', hyperDim: 2 }, { kind: 'scaled' }];

describe.each(kinds)('GeneratedLora ($kind)', (spec) => {
  const setup = (init: 'svd' | 'zero') => {
    const random = new Mulberry32(11);
    const { config, source, spec: tied } = tiedSpec(8, 3, 'middle-cycle');
    const arrays = initGeneratedLora({
      spec,
      plan: tied.plan,
      sourceConfig: config,
      source,
      shared: tied.arrays,
      ranks: { attention: 2, mlp: 3 },
      init,
      norms: 'per-loop',
    });
    // hyper's B generators start at zero: give them weight, so comparisons are not 0 = 0
    for (const [key, { shape }] of arrays)
      if (key.endsWith('B_generator.weight'))
        arrays.set(key, {
          data: draw(
            shape.reduce((x, y) => x * y, 1),
            random,
          ),
          shape,
        });
    return { tied, lora: GeneratedLora.fromArrays(spec, arrays) };
  };

  it('runs in the decoder exactly as its materialised per-loop LoRA, and frees what it makes', () => {
    const { tied, lora } = setup('svd');
    const dense = lora.materialise(executionSteps(tied.config));
    const ids = [1, 5, 9, 2, 17, 3];
    const generated = Decoder.fromArrays(tied.config, tied.arrays, { adapter: lora });
    const materialised = Decoder.fromArrays(tied.config, tied.arrays, { adapter: dense });
    const before = tf.memory().numTensors;
    const [got, want] = tf.tidy(() => [generated.forward(ids).dataSync(), materialised.forward(ids).dataSync()]);
    expect(tf.memory().numTensors).toBe(before);
    expect(maxAbsDiff(got!, want!)).toBeLessThan(1e-5);
    // unique first/last layers (0 and 3 of MIDDLE-CYCLE) get no adapter
    const keys = [...dense.tensors.keys()];
    expect(keys.some((k) => k.startsWith('model.layers.0.') || k.startsWith('model.layers.3.'))).toBe(false);
    const steps = tied.plan.steps.filter((s) => s.role === 'shared').length;
    expect(keys.filter((k) => k.includes('.lora_A.')).length).toBe(steps * 7);
    for (const d of [generated, materialised]) d.dispose();
    dense.dispose();
    lora.dispose();
  });

  it('stores fewer parameters than the depth-wise LoRA it materialises', () => {
    const { tied, lora } = setup('svd');
    const dense = lora.materialise(executionSteps(tied.config));
    expect(lora.parameterCount).toBeLessThan(dense.parameterCount);
    dense.dispose();
    lora.dispose();
  });
});

describe('initial values', () => {
  it('hyper under zero init starts at the tied model (every generated B is zero)', () => {
    const { config, source, spec: tied } = tiedSpec(4, 2);
    const spec: LoraKindSpec = { kind: 'hyper', hyperDim: 2 };
    const options = { spec, plan: tied.plan, sourceConfig: config, source, shared: tied.arrays };
    const lora = GeneratedLora.fromArrays(
      spec,
      initGeneratedLora({ ...options, ranks: { attention: 2, mlp: 2 }, init: 'zero' }),
    );
    const call: LayerCall = { unique: 1, loop: 1, step: 3 } as LayerCall;
    const x = tf.ones([2, 8]) as tf.Tensor2D;
    const y = tf.zeros([2, 8]) as tf.Tensor2D;
    expect(tf.tidy(() => tf.max(tf.abs(lora.adapt('self_attn.q_proj', call, x, y))).dataSync()[0])).toBe(0);
    tf.dispose([x, y]);
    lora.dispose();
  });

  it('scaled svd: residuals that are multiples of one low-rank matrix are fitted exactly (s_k·B·A = c_k·M)', () => {
    const random = new Mulberry32(9);
    const [rows, cols, rank] = [5, 4, 2];
    const m = product(draw(rows * rank, random), draw(rank * cols, random), rows, rank, cols); // rank-2 M [5, 4]
    const c = [0.5, -1.5, 2];
    const key = (l: number) => layerKey(l, 'mlp.up_proj.weight');
    const source = new Map(c.map((ck, k) => [key(k), Float32Array.from(m, (v) => ck * v)]));
    const steps = c.map((_, k) => ({ unique: 0, loop: k, role: 'shared' as const, sourceLayer: k }));
    const options = { steps, loops: 3, source, shared: new Map([[key(0), new Float32Array(rows * cols)]]) };
    const arrays = initScaledLora({ ...options, init: 'svd', hyperDim: 0 }, [
      { module: 'mlp.up_proj', rows, cols, rank },
    ]);
    const a = arrays.get(templateKey(0, 'mlp.up_proj', 'A'))!.data;
    const b = arrays.get(templateKey(0, 'mlp.up_proj', 'B'))!.data;
    const scales = arrays.get(loopScaleKey(0, 'mlp.up_proj'))!.data;
    for (const [k, ck] of c.entries()) {
      const got = scaledDeltaReference(f64(a), f64(b), f64(scales), k, [rows, rank, cols]);
      expect(
        maxAbsDiff(
          got,
          Float64Array.from(m, (v) => ck * v),
        ),
      ).toBeLessThan(1e-4);
    }
  });

  it('scaled svd under --init average (the residuals average to zero) still fits: loops get distinct scales', () => {
    const { config, source, spec: tied } = tiedSpec(6, 3);
    const arrays = initGeneratedLora({
      spec: { kind: 'scaled' },
      plan: tied.plan,
      sourceConfig: config,
      source,
      shared: tied.arrays,
      ranks: { attention: 2, mlp: 2 },
      init: 'svd',
    });
    for (const unique of [0, 1])
      for (const module of ['self_attn.q_proj', 'mlp.down_proj'] as const) {
        const scales = arrays.get(loopScaleKey(unique, module))!.data;
        expect(scales.length).toBe(3);
        expect(scales.every(Number.isFinite)).toBe(true);
        expect(Math.max(...scales) - Math.min(...scales)).toBeGreaterThan(0.1);
        expect(arrays.get(templateKey(unique, module, 'B'))!.data.some((v) => v !== 0)).toBe(true);
      }
  });
});
