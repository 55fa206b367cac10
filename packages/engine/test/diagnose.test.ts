import { beforeAll, describe, expect, it } from 'vitest';
import { adaptedModules, Decoder, layerKey, randomDecoder, type DecoderConfig, type LayerAdapter } from '@recur/graph';
import { applyRope, initBackend, linear, rmsNorm, ropeInverseFrequencies, tf } from '@recur/tensor';
import { refAttentionEntropy, refAttentionMapSimilarity, refAttentionProbabilities } from '@recur/tensor/reference';
import {
  diagnoseModel,
  diagnosticPass,
  inflectionSteps,
  weightGradient,
  windowGradients,
  windowLoss,
  type DiagnosticPass,
  type WindowGradients,
} from '../src/index.js';

const base: DecoderConfig = {
  vocabSize: 24,
  hiddenSize: 16,
  intermediateSize: 24,
  numLayers: 3,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 4,
  maxPositionEmbeddings: 64,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieWordEmbeddings: true,
};
// MIDDLE-CYCLE: a prologue layer, a 1-layer block looped 3 times, an epilogue layer.
const looped: DecoderConfig = { ...base, layerOrder: [0, 1, 1, 1, 2] };
const ids = Array.from({ length: 12 }, (_, i) => (i * 7 + 3) % 24);
const other = Array.from({ length: 12 }, (_, i) => (i * 5 + 1) % 24);
const EPS = 3e-3;

beforeAll(async () => {
  await initBackend();
});

/** Central difference of the window loss along a unit direction: equals the gradient norm when the direction is the gradient's. */
function centralDifference(loss: (sign: number) => number): number {
  return (loss(1) - loss(-1)) / (2 * EPS);
}

/** unit(t) = t / ‖t‖ over a list of tensors together, and that norm. */
function unit(tensors: readonly tf.Tensor[]): { directions: tf.Tensor[]; norm: number } {
  const norm = Math.sqrt(tensors.reduce((s, t) => s + tf.tidy(() => tf.sum(tf.square(t)).dataSync()[0]!), 0));
  return { directions: tensors.map((t) => tf.div(t, norm)), norm };
}

/** The gradient of stored layer `layer` by checkpoint key: each step's W_eff gradient, summed. */
function layerGradient(pass: DiagnosticPass, window: WindowGradients, layer: number): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  const add = (key: string, g: tf.Tensor) => out.set(key, out.has(key) ? tf.add(out.get(key)!, g) : g);
  for (const call of pass.steps.filter((s) => s.unique === layer)) {
    for (const module of adaptedModules)
      add(layerKey(layer, `${module}.weight`), weightGradient(window, pass, call, module).weight);
    for (const norm of ['input_layernorm', 'post_attention_layernorm'] as const)
      add(layerKey(layer, `${norm}.weight`), window.probeGrads.get(`${call.step}:${norm}`)!);
  }
  return out;
}

describe('diagnose: gradient norms against finite differences', () => {
  for (const [name, config] of [
    ['plain', base],
    ['recursive (middle-cycle, 3 loops)', looped],
  ] as const) {
    it(`‖∂L/∂h_s‖ of every step (${name})`, async () => {
      const decoder = randomDecoder(config, { seed: 3, std: 0.3 });
      const pass = diagnosticPass(decoder, undefined);
      const window = await windowGradients(pass, ids);
      for (const call of pass.steps) {
        const { directions, norm } = unit([window.activationGrads[call.step]!]);
        const fd = centralDifference((sign) =>
          tf.tidy(() =>
            windowLoss(pass, ids, new Map([[call.step, tf.mul(directions[0]!, sign * EPS) as tf.Tensor2D]])),
          ),
        );
        tf.dispose(directions);
        expect(Math.abs(fd - norm) / norm).toBeLessThan(2e-3);
      }
      window.dispose();
      decoder.dispose();
    });

    it(`‖∂L/∂θ‖ of every stored layer, the sum over its steps (${name})`, async () => {
      const decoder = randomDecoder(config, { seed: 4, std: 0.3 });
      const pass = diagnosticPass(decoder, undefined);
      const result = await diagnoseModel({ decoder }, { windows: [ids] });
      const window = await windowGradients(pass, ids);
      for (const layer of [0, 1, 2]) {
        const grads = layerGradient(pass, window, layer);
        const { directions, norm } = unit([...grads.values()]);
        const keys = [...grads.keys()];
        const fd = centralDifference((sign) => {
          const weights = new Map(decoder.weights);
          const moved = keys.map((key, i) => tf.add(decoder.weights.get(key)!, tf.mul(directions[i]!, sign * EPS)));
          keys.forEach((key, i) => weights.set(key, moved[i]!));
          const loss = windowLoss(diagnosticPass(new Decoder(config, weights), undefined), ids);
          tf.dispose(moved);
          return loss;
        });
        tf.dispose([...grads.values(), ...directions]);
        expect(Math.abs(fd - norm) / norm).toBeLessThan(2e-3);
        expect(result.layers[layer]!.paramGradNorm).toBeCloseTo(norm, 4);
      }
      window.dispose();
      decoder.dispose();
    });
  }
});

describe('diagnose: per-step parameter gradients of a shared layer', () => {
  it('‖∂L/∂W_eff(s)‖ of each loop of the shared layer matches a finite difference that moves only that step', async () => {
    const decoder = randomDecoder(looped, { seed: 8, std: 0.3 });
    const pass = diagnosticPass(decoder, undefined);
    const window = await windowGradients(pass, ids);
    const result = await diagnoseModel({ decoder }, { windows: [ids] });
    for (const call of pass.steps.filter((s) => s.unique === 1)) {
      const weights = adaptedModules.map((m) => weightGradient(window, pass, call, m).weight);
      const norms = (['input_layernorm', 'post_attention_layernorm'] as const).map(
        (n) => window.probeGrads.get(`${call.step}:${n}`)!,
      );
      const { directions, norm } = unit([...weights, ...norms]);
      // an adapter that adds ±ε·direction to this step's effective weights only
      const moved = (sign: number): LayerAdapter => ({
        adapt: (module, at, x, y) => {
          if (at.step !== call.step) return y;
          const u = directions[adaptedModules.indexOf(module)] as tf.Tensor2D;
          return tf.add(y, tf.matMul(x, tf.mul(u, sign * EPS), false, true)) as tf.Tensor2D;
        },
        norm: (name, at) => {
          const own = decoder.weights.get(layerKey(at.unique, `${name}.weight`)) as tf.Tensor1D;
          if (at.step !== call.step) return own;
          const u = directions[adaptedModules.length + (name === 'input_layernorm' ? 0 : 1)] as tf.Tensor1D;
          return tf.add(own, tf.mul(u, sign * EPS)) as tf.Tensor1D;
        },
      });
      const fd = centralDifference((sign) => windowLoss(diagnosticPass(decoder, moved(sign)), ids));
      tf.dispose([...weights, ...directions]);
      expect(Math.abs(fd - norm) / norm).toBeLessThan(2e-3);
      expect(result.steps[call.step]!.paramGradNorm).toBeCloseTo(norm, 4);
    }
    window.dispose();
    decoder.dispose();
  });
});

describe('diagnoseModel', () => {
  it('reads step 0 attention entropy as the float64 definition does', async () => {
    const decoder = randomDecoder(base, { seed: 5, std: 0.5 });
    const result = await diagnoseModel({ decoder }, { windows: [ids] });
    const inputs = ids.slice(0, -1);
    const positions = Int32Array.from(inputs, (_, i) => i);
    const invFreq = ropeInverseFrequencies({ headDim: 4, theta: 10000, scaling: null });
    const [q, k] = tf.tidy(() => {
      const x = rmsNorm(
        decoder.embed(inputs),
        decoder.weights.get(layerKey(0, 'input_layernorm.weight')) as tf.Tensor1D,
        1e-5,
      ) as tf.Tensor2D;
      const heads = (m: string, n: number) =>
        applyRope(
          tf.reshape(linear(x, decoder.weights.get(layerKey(0, `self_attn.${m}.weight`)) as tf.Tensor2D), [11, n, 4]),
          positions,
          invFreq,
        );
      return [heads('q_proj', 4).dataSync(), heads('k_proj', 2).dataSync()];
    });
    const expected = refAttentionEntropy(q, k, { tokens: 11, heads: 4, kvHeads: 2, headDim: 4 });
    expect(result.steps[0]!.attentionEntropy).toBeCloseTo(expected, 5);
    decoder.dispose();
  });

  it('reads the attention-map similarity of steps 0 and 1 as the float64 definition does', async () => {
    const decoder = randomDecoder(base, { seed: 8, std: 0.5 });
    const result = await diagnoseModel({ decoder }, { windows: [ids] });
    const inputs = ids.slice(0, -1);
    const positions = Int32Array.from(inputs, (_, i) => i);
    const invFreq = ropeInverseFrequencies({ headDim: 4, theta: 10000, scaling: null });
    const dims = { tokens: 11, keys: 11, heads: 4, kvHeads: 2, headDim: 4, queryOffset: 0 };
    const qk = tf.tidy(() => {
      const cache = decoder.newCache();
      const h0 = decoder.embed(inputs); // [T, d]
      const h1 = decoder.runLayers(h0, [{ unique: 0, step: 0, loop: 0 }], { positions, cache }); // [T, d]
      cache.dispose();
      return [h0, h1].flatMap((h, layer) => {
        const x = rmsNorm(
          h,
          decoder.weights.get(layerKey(layer, 'input_layernorm.weight')) as tf.Tensor1D,
          1e-5,
        ) as tf.Tensor2D;
        const heads = (m: string, n: number) =>
          applyRope(
            tf.reshape(linear(x, decoder.weights.get(layerKey(layer, `self_attn.${m}.weight`)) as tf.Tensor2D), [
              11,
              n,
              4,
            ]),
            positions,
            invFreq,
          ).dataSync();
        return [heads('q_proj', 4), heads('k_proj', 2)] as Float32Array[];
      });
    });
    const maps = [0, 1].map((layer) => refAttentionProbabilities(qk[2 * layer]!, qk[2 * layer + 1]!, dims));
    const expected = refAttentionMapSimilarity(maps[0]!, maps[1]!, dims);
    const matrix = result.attentionSimilarity;
    expect(matrix).toHaveLength(3);
    expect(matrix[1]![0]).toBeCloseTo(expected, 5);
    expect(matrix[0]![1]).toBe(matrix[1]![0]);
    expect(matrix.map((row, a) => row[a])).toEqual([1, 1, 1]);
    expect(matrix.flat().every((v) => v >= 0 && v <= 1)).toBe(true);
    decoder.dispose();
  });

  it('gives per-step entries for a recursive model, ΔCKA 0 against the same data, and frees every tensor', async () => {
    const decoder = randomDecoder(looped, { seed: 6, std: 0.3 });
    const before = tf.memory().numTensors;
    const progress: number[] = [];
    const same = await diagnoseModel(
      { decoder },
      { windows: [ids, other], targetWindows: [ids, other], onProgress: (d) => progress.push(d) },
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(progress).toEqual([1, 2, 3, 4]);
    expect(same.recursive).toBe(true);
    expect(same.steps.map((s) => [s.layer, s.loop])).toEqual([
      [0, 0],
      [1, 0],
      [1, 1],
      [1, 2],
      [2, 0],
    ]);
    expect(same.layers.map((l) => l.steps)).toEqual([[0], [1, 2, 3], [4]]);
    expect(same.attentionSimilarity.map((row) => row.length)).toEqual([5, 5, 5, 5, 5]);
    for (const s of same.steps) {
      expect(s.deltaCka).toBeLessThan(1e-9);
      expect(s.target!.activationGradNorm).toBeCloseTo(s.activationGradNorm, 6);
    }
    const shifted = await diagnoseModel({ decoder }, { windows: [ids], targetWindows: [other] });
    expect(shifted.steps.every((s) => s.deltaCka! > 0 && s.deltaCka! <= 1)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    decoder.dispose();
  });

  it('refuses empty data', async () => {
    const decoder = randomDecoder(base, { seed: 7 });
    await expect(diagnoseModel({ decoder }, { windows: [] })).rejects.toThrow(/empty/);
    await expect(diagnoseModel({ decoder }, { windows: [ids], targetWindows: [] })).rejects.toThrow(/empty/);
    decoder.dispose();
  });
});

describe('inflectionSteps', () => {
  it('flags low-entropy steps whose gradient norm falls by more than the drop from the step above', () => {
    const entropy = [0.5, 2.0, 0.4, 0.3, 1.0]; // median 0.5: steps 2 and 3 are below
    const grad = [1.0, 1.0, 0.5, 0.95, 1.0];
    expect(inflectionSteps(entropy, grad, 0.1)).toEqual([2]); // 0.5 < 0.9·0.95; 0.95 ≥ 0.9·1.0
    expect(inflectionSteps(entropy, grad, 0.04)).toEqual([2, 3]);
    expect(() => inflectionSteps(entropy, grad, 1)).toThrow(RangeError);
  });
});
