import { beforeAll, describe, expect, it } from 'vitest';
import { crossEntropy, initBackend, tf } from '@recur/tensor';
import { distillationKl, distillationLoss } from '../src/index.js';

// Hand-computed: for logits [1, 2, 3], log Σe = log(e + e² + e³) = 3.40760596…, so −log p[2] = 0.40760596
// and a uniform row [0, 0, 0] costs log 3 = 1.09861229.
const CE_ROW0 = 0.40760596444438013;
const LOG3 = 1.0986122886681098;
// KD at T = 2 between student [1, 2, 3] and teacher [3, 2, 1]: p = softmax([1.5, 1, 0.5]) and
// q = softmax([0.5, 1, 1.5]) are mirror images with p₀/q₀ = e, so KL = (p₀ − p₂)·1 = 0.32015667; ×T² = 1.28062667.
const KD_T2 = 1.2806266713192258;

describe('losses', () => {
  beforeAll(() => initBackend());

  it('cross-entropy is the mean −log p(target) over counted positions', async () => {
    const logits = tf.tensor2d([
      [1, 2, 3],
      [0, 0, 0],
    ]);
    expect((await crossEntropy(logits, Int32Array.from([2, 0])).data())[0]).toBeCloseTo((CE_ROW0 + LOG3) / 2, 6);
    expect((await crossEntropy(logits, Int32Array.from([2, -1])).data())[0]).toBeCloseTo(CE_ROW0, 6); // −1: skipped
    expect(() => crossEntropy(logits, Int32Array.from([1]))).toThrow(/1 targets for 2 rows/);
    logits.dispose();
  });

  it('distillation: T²·KL(teacher ‖ student), mixed alpha·KD + (1 − alpha)·CE', async () => {
    const student = tf.tensor2d([[1, 2, 3]]);
    const teacher = tf.tensor2d([[3, 2, 1]]);
    const targets = Int32Array.from([2]);
    expect((await distillationKl(student, teacher, 2).data())[0]).toBeCloseTo(KD_T2, 5);
    expect((await distillationKl(student, student, 2).data())[0]).toBeCloseTo(0, 6);
    expect((await distillationLoss(student, teacher, targets, { temperature: 2, alpha: 0.5 }).data())[0]).toBeCloseTo(
      0.5 * KD_T2 + 0.5 * CE_ROW0,
      5,
    );
    expect((await distillationLoss(student, teacher, targets, { temperature: 2, alpha: 0 }).data())[0]).toBeCloseTo(
      CE_ROW0,
      6,
    );
    tf.dispose([student, teacher]);
  });

  it('leaves no tensors behind', () => {
    const logits = tf.tensor2d([
      [1, 2, 3],
      [0, 1, 0],
    ]);
    const before = tf.memory().numTensors;
    crossEntropy(logits, Int32Array.from([0, 1])).dispose();
    distillationLoss(logits, logits, Int32Array.from([0, 1]), { temperature: 3, alpha: 0.3 }).dispose();
    expect(tf.memory().numTensors).toBe(before);
    logits.dispose();
  });
});
