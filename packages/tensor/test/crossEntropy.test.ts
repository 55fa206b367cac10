import { describe, expect, it } from 'vitest';
import { crossEntropy, tf } from '../src/index.js';
import { refCrossEntropy } from '../src/reference/index.js';
import { BACKENDS, runAndCount, useBackend } from './helpers/backends.js';
import { expectClose } from './helpers/close.js';
import { mulberry32, randomArray } from './helpers/prng.js';

const TOL = 1e-5;

describe.each(BACKENDS)('crossEntropy on %s', (backend) => {
  useBackend(backend);

  it.each([
    { rows: 6, vocab: 32, scale: 1 },
    { rows: 1, vocab: 512, scale: 8 }, // peaked logits
    { rows: 9, vocab: 5, scale: 30 }, // large logits: the log-softmax must stay stable
  ])('$rows × $vocab, scale $scale, with a skipped position', ({ rows, vocab, scale }) => {
    const rand = mulberry32(rows * 1000 + vocab);
    const logits = randomArray(rand, rows * vocab, scale);
    const targets = Int32Array.from({ length: rows }, (_, t) => (t === 1 ? -1 : Math.floor(rand() * vocab)));
    const lt = tf.tensor2d(logits, [rows, vocab]);
    const got = runAndCount(() => crossEntropy(lt, targets));
    expect(got.leaked).toBe(0);
    expectClose(got.data, [refCrossEntropy(logits, targets, vocab)], TOL);
    lt.dispose();
  });

  it('refuses targets that do not match the rows', () => {
    const lt = tf.zeros([3, 4]) as tf.Tensor2D;
    expect(() => crossEntropy(lt, new Int32Array(2))).toThrow(/2 targets for 3 rows/);
    lt.dispose();
  });
});
