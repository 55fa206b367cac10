import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { registerGradients } from '@recur/train';
import {
  entropy,
  exitDepths,
  exitDepthsTf,
  perLoopCrossEntropy,
  selfDistillationLoss,
  stopGradient,
  type ExitPolicy,
} from '../src/index.js';

// Three tokens, three loops, probabilities over V = 3 (rows of loop 2 never matter: the last loop always exits).
const LOOPS = [
  [0.9, 0.05, 0.05, 0.4, 0.3, 0.3, 0.34, 0.33, 0.33],
  [0.6, 0.2, 0.2, 0.8, 0.1, 0.1, 0.5, 0.25, 0.25],
  [1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3],
].map((rows) => Float32Array.from(rows));
// Entropies (nats): H(.9,.05,.05) = 0.394, H(.8,.1,.1) = 0.639, H(.5,.25,.25) = 1.040, H(.4,.3,.3) = 1.089.
const H_09 = -(0.9 * Math.log(0.9) + 2 * 0.05 * Math.log(0.05));

// CE of logits [1, 2, 3] at target 2 is log(e + e² + e³) − 3; a uniform row costs log 3.
const CE_ROW0 = 0.40760596444438013;
const LOG3 = Math.log(3);
// T² · KL(softmax([3,2,1]/2) ‖ softmax([1,2,3]/2)) at T = 2 (mirror images, p₀/q₀ = e): (p₀ − p₂)·4.
const KD_T2 = 1.2806266713192258;

const value = (s: tf.Scalar): number => {
  const v = s.dataSync()[0] ?? NaN;
  s.dispose();
  return v;
};

describe('early exit', () => {
  beforeAll(async () => {
    await initBackend();
    registerGradients();
  });

  it('exit policies on hand-built distributions (plain)', () => {
    const run = (policy: ExitPolicy): number[] => [...exitDepths(LOOPS, { vocabSize: 3, policy, input: 'probs' })];
    expect(entropy(LOOPS[0]!.subarray(0, 3), 'probs')).toBeCloseTo(H_09, 6);
    expect(run({ kind: 'maxProb', threshold: 0.75 })).toEqual([1, 2, 3]);
    expect(run({ kind: 'maxProb', threshold: 0.95 })).toEqual([3, 3, 3]);
    expect(run({ kind: 'entropy', threshold: 0.7 })).toEqual([1, 2, 3]);
    expect(run({ kind: 'entropy', threshold: 0.3 })).toEqual([3, 3, 3]);
    expect(run({ kind: 'entropy', threshold: 1.05 })).toEqual([1, 2, 2]);
    expect(run({ kind: 'fixed', depth: 2 })).toEqual([2, 2, 2]);
    expect(run({ kind: 'fixed', depth: 7 })).toEqual([3, 3, 3]);
    // Logits ln p give the same decisions as the probabilities themselves.
    const logits = LOOPS.map((rows) => rows.map(Math.log));
    expect([...exitDepths(logits, { vocabSize: 3, policy: { kind: 'maxProb', threshold: 0.75 } })]).toEqual([1, 2, 3]);
    expect(() => exitDepths([Float32Array.of(1, 2)], { vocabSize: 3, policy: { kind: 'fixed', depth: 1 } })).toThrow(
      /rows of 3/,
    );
  });

  it('exit policies on tensors match the plain version and leak nothing', () => {
    const policies: ExitPolicy[] = [
      { kind: 'maxProb', threshold: 0.75 },
      { kind: 'entropy', threshold: 0.7 },
      { kind: 'entropy', threshold: 1.05 },
      { kind: 'fixed', depth: 2 },
    ];
    const logitRows = LOOPS.map((rows) => tf.tensor2d(rows.map(Math.log), [3, 3]));
    const probRows = LOOPS.map((rows) => tf.tensor2d(rows, [3, 3]));
    const before = tf.memory().numTensors;
    for (const policy of policies) {
      const plain = [...exitDepths(LOOPS, { vocabSize: 3, policy, input: 'probs' })];
      expect([...exitDepthsTf(logitRows, policy)]).toEqual(plain);
      expect([...exitDepthsTf(probRows, policy, 'probs')]).toEqual(plain);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...logitRows, ...probRows]);
  });

  it('per-loop CE: weighted sum, normalised or not', () => {
    const loops = [tf.tensor2d([[1, 2, 3]]), tf.tensor2d([[0, 0, 0]])];
    const targets = Int32Array.of(2);
    const before = tf.memory().numTensors;
    expect(value(perLoopCrossEntropy(loops, targets))).toBeCloseTo((CE_ROW0 + LOG3) / 2, 6);
    expect(value(perLoopCrossEntropy(loops, targets, { weights: [1, 3] }))).toBeCloseTo((CE_ROW0 + 3 * LOG3) / 4, 6);
    expect(value(perLoopCrossEntropy(loops, targets, { weights: [1, 3], normalize: false }))).toBeCloseTo(
      CE_ROW0 + 3 * LOG3,
      5,
    );
    expect(value(perLoopCrossEntropy(loops, targets, { weights: [0, 1] }))).toBeCloseTo(LOG3, 6);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => perLoopCrossEntropy(loops, targets, { weights: [1, 1, 1] })).toThrow(/3 weights for 2 loops/);
    tf.dispose(loops);
  });

  it('self-distillation: T²·KL from the deepest loop into each exit', () => {
    const student = tf.tensor2d([[1, 2, 3]]);
    const teacher = tf.tensor2d([[3, 2, 1]]);
    const before = tf.memory().numTensors;
    expect(value(selfDistillationLoss([student, teacher], { temperature: 2 }))).toBeCloseTo(KD_T2, 5);
    // Two exits, one equal to the teacher (KL 0): normalised mean, or the plain sum.
    expect(value(selfDistillationLoss([student, teacher, teacher], { temperature: 2 }))).toBeCloseTo(KD_T2 / 2, 5);
    expect(value(selfDistillationLoss([student, student, teacher], { temperature: 2, normalize: false }))).toBeCloseTo(
      2 * KD_T2,
      5,
    );
    expect(value(selfDistillationLoss([teacher]))).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([student, teacher]);
  });

  it('stop-gradient: the teacher gets no gradient unless asked', () => {
    const student = tf.tensor2d([[1, 2, 3]]);
    const teacher = tf.tensor2d([[3, 2, 1]]);
    const before = tf.memory().numTensors;
    const grads = (stop: boolean): [number[], number[]] => {
      const [gs, gt] = tf.grads((s: tf.Tensor, t: tf.Tensor) =>
        selfDistillationLoss([s as tf.Tensor2D, t as tf.Tensor2D], { temperature: 2, stopGradient: stop }),
      )([student, teacher]);
      const out: [number[], number[]] = [[...gs!.dataSync()], [...gt!.dataSync()]];
      tf.dispose([gs!, gt!]);
      return out;
    };
    const [studentStopped, teacherStopped] = grads(true);
    const [studentFree, teacherFree] = grads(false);
    expect(teacherStopped).toEqual([0, 0, 0]);
    expect(Math.max(...teacherFree.map(Math.abs))).toBeGreaterThan(0.1);
    studentStopped.forEach((g, i) => expect(g).toBeCloseTo(studentFree[i]!, 6)); // the student's gradient is unchanged
    const y = stopGradient(student);
    expect([...y.dataSync()]).toEqual([1, 2, 3]);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([student, teacher]);
  });
});
