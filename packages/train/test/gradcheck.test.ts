import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyAttentionProbabilities,
  applyRope,
  attentionProbabilities,
  causalAttention,
  crossEntropy,
  initBackend,
  linear,
  rmsNorm,
  swiGluMlp,
  tf,
  type BackendName,
} from '@recur/tensor';
import { Decoder, randomDecoder, type DecoderConfig } from '@recur/graph';
import { distillationLoss, intervalDriftSum, registerGradients } from '../src/index.js';

/**
 * Analytic gradients (tfjs autodiff with @recur/train's registered gradients) against central
 * differences (f(x+ε) − f(x−ε))/2ε in float32, on a random subset of coordinates. Float32 loses
 * about 1e-7·|f|/ε to rounding, so with ε = 1e-2 and outputs O(1) the differences are good to
 * ~1e-4 plus the O(ε²) truncation; a coordinate passes if |analytic − numeric| ≤ ATOL + RTOL·|numeric|.
 */
const EPS = 1e-2;
const ATOL = 2e-3;
const RTOL = 2e-2;
const SAMPLES = 12;

type Fn = (inputs: tf.Tensor[]) => tf.Scalar;

/** Checks d f / d inputs[k] at SAMPLES random coordinates of every input; returns the worst error seen. */
function gradCheck(f: Fn, inputs: tf.Tensor[], seed: number): number {
  const grads = tf.grads((...xs: tf.Tensor[]) => f(xs))(inputs);
  let rng = seed;
  const rand = (n: number): number => {
    rng = (Math.imul(rng, 1664525) + 1013904223) >>> 0;
    return rng % n;
  };
  let worst = 0;
  inputs.forEach((x, k) => {
    const base = x.dataSync() as Float32Array;
    const analytic = grads[k]!.dataSync();
    for (let s = 0; s < Math.min(SAMPLES, base.length); s++) {
      const i = rand(base.length);
      const at = (delta: number) => {
        const moved = Float32Array.from(base);
        moved[i] = base[i]! + delta;
        const xs = inputs.map((t, j) => (j === k ? tf.tensor(moved, t.shape) : t));
        const value = tf.tidy(() => f(xs)).dataSync()[0]!;
        xs.forEach((t, j) => j === k && t.dispose());
        return value;
      };
      const numeric = (at(EPS) - at(-EPS)) / (2 * EPS);
      const err = Math.abs(analytic[i]! - numeric);
      expect(err, `input ${k} coordinate ${i}: analytic ${analytic[i]} vs numeric ${numeric}`).toBeLessThanOrEqual(
        ATOL + RTOL * Math.abs(numeric),
      );
      worst = Math.max(worst, err);
    }
  });
  tf.dispose(grads);
  return worst;
}

/** A fixed random projection to a scalar, so every output coordinate matters to the loss. */
function project(y: tf.Tensor, seed: number): tf.Scalar {
  return tf.sum(tf.mul(y, tf.randomNormal(y.shape, 0, 1, 'float32', seed))) as tf.Scalar;
}

const tiny: DecoderConfig = {
  vocabSize: 24,
  hiddenSize: 16,
  intermediateSize: 32,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 4,
  maxPositionEmbeddings: 64,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieWordEmbeddings: true,
  layerOrder: [0, 1, 0, 1], // two loops over a shared block: gradients from both uses of a layer add up
};

for (const backend of ['wasm', 'cpu'] as BackendName[]) {
  describe(`gradients match central differences (${backend})`, () => {
    let previous: BackendName = 'wasm';
    beforeAll(async () => {
      previous = await initBackend();
      await initBackend({ backend });
      registerGradients();
    });
    afterAll(async () => {
      await initBackend({ backend: previous });
    });
    const r = (shape: number[], seed: number, scale = 1) =>
      tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), scale);

    it('Add and Sub hand each input a gradient tensor of its own (a later sum into one must not free the other)', () => {
      // a + b gives a and b the same dy; a's second use then adds into a's gradient, which frees the
      // tensor it held. Were that tensor b's gradient too, reading b's gradient would fail.
      const inputs = [r([3, 4], 11), r([3, 4], 12)];
      // Backprop runs in reverse, so the sum is recorded last: its gradient reaches a and b first.
      gradCheck(([a, b]) => tf.add(project(tf.mul(a!, 3), 6), project(tf.add(a!, b!), 5)) as tf.Scalar, inputs, 2);
      gradCheck(([a, b]) => tf.add(project(tf.mul(b!, 3), 8), project(tf.sub(a!, b!), 7)) as tf.Scalar, inputs, 3);
      tf.dispose(inputs);
    });
    it('linear (with bias)', () => {
      const inputs = [r([5, 6], 1), r([4, 6], 2, 0.5), r([4], 3)];
      gradCheck(([x, w, b]) => project(linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), 9), inputs, 1);
      tf.dispose(inputs);
    });

    it('intervalDriftSum (Abs; values kept away from the kink at 0)', () => {
      const away = (t: tf.Tensor) => tf.tidy(() => tf.add(t, tf.mul(tf.sign(t), 0.1)));
      const inputs = [away(r([4, 6], 21, 0.5)), r([6], 22, 0.3)];
      gradCheck(
        ([delta, lower]) =>
          intervalDriftSum(delta as tf.Tensor2D, lower as tf.Tensor1D, tf.add(lower!, 1) as tf.Tensor1D),
        inputs,
        5,
      );
      tf.dispose(inputs);
    });

    it('EchoAtt maps: attentionProbabilities then applyAttentionProbabilities, grouped kv heads, a decode offset', () => {
      // q [T=3, 4 heads, 4], k and v [S=5, 2 kv heads, 4]: rows at positions 2..4
      const inputs = [r([3, 4, 4], 31), r([5, 2, 4], 32), r([5, 2, 4], 33)];
      gradCheck(
        ([q, k, v]) =>
          project(
            applyAttentionProbabilities(
              attentionProbabilities(q as tf.Tensor3D, k as tf.Tensor3D, 2),
              v as tf.Tensor3D,
            ),
            34,
          ),
        inputs,
        6,
      );
      tf.dispose(inputs);
    });

    it('rmsNorm', () => {
      const inputs = [r([4, 8], 4), tf.add(r([8], 5, 0.2), 1)];
      gradCheck(([x, w]) => project(rmsNorm(x!, w as tf.Tensor1D, 1e-5), 10), inputs, 2);
      tf.dispose(inputs);
    });

    it('applyRope', () => {
      const inputs = [r([5, 2, 8], 6)];
      const positions = Int32Array.from([0, 1, 2, 7, 30]);
      const invFreq = Float32Array.from([1, 0.3, 0.1, 0.01]);
      gradCheck(([x]) => project(applyRope(x as tf.Tensor3D, positions, invFreq), 11), inputs, 3);
      tf.dispose(inputs);
    });

    it('causalAttention (GQA; short and long enough for the per-kv-head wasm kernel)', () => {
      for (const t of [5, 20]) {
        const inputs = [r([t, 4, 4], 7), r([t, 2, 4], 8), r([t, 2, 4], 12)];
        gradCheck(
          ([q, k, v]) =>
            project(causalAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, { queryOffset: 0 }), 13),
          inputs,
          4 + t,
        );
        tf.dispose(inputs);
      }
    });

    it('swiGluMlp', () => {
      const inputs = [r([4, 6], 14), r([10, 6], 15, 0.5), r([10, 6], 16, 0.5), r([6, 10], 17, 0.5)];
      gradCheck(
        ([x, gate, up, down]) =>
          project(
            swiGluMlp(x as tf.Tensor2D, {
              gate: gate as tf.Tensor2D,
              up: up as tf.Tensor2D,
              down: down as tf.Tensor2D,
            }),
            18,
          ),
        inputs,
        5,
      );
      tf.dispose(inputs);
    });

    it('a whole tiny decoder: CE and KD loss w.r.t. every weight (tied embedding/head, shared block looped twice)', () => {
      const model = randomDecoder(tiny, { seed: 3, std: 0.3 });
      const names = [...model.weights.keys()];
      const ids = Int32Array.from([1, 5, 9, 2, 17, 4, 4, 20, 11, 3]);
      const teacher = tf.tidy(() =>
        tf.mul(tf.randomNormal([9, tiny.vocabSize], 0, 1, 'float32', 21), 2),
      ) as tf.Tensor2D;
      const lossOf = (ws: tf.Tensor[]): tf.Scalar => {
        const decoder = new Decoder(tiny, new Map(names.map((n, i) => [n, ws[i]!])));
        const logits = decoder.forward(ids.subarray(0, 9));
        return tf.add(
          crossEntropy(logits, ids.subarray(1)),
          distillationLoss(logits, teacher, ids.subarray(1), { temperature: 2, alpha: 0.7 }),
        );
      };
      gradCheck(
        lossOf,
        names.map((n) => model.weights.get(n)!),
        6,
      );
      teacher.dispose();
      model.dispose();
    });
  });
}
