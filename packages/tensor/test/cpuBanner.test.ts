import { expect, it, vi } from 'vitest';
import { initBackend, tf } from '../src/index.js';

// Its own file: the banner comes once per cpu backend instance, so an earlier cpu test would hide it.
it('the cpu backend in Node prints no "install tfjs-node" banner; tfjs warnings still show', async () => {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  expect(await initBackend({ backend: 'cpu' })).toBe('cpu');
  tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).dataSync());
  expect(warn.mock.calls.flat().join(' ')).not.toMatch(/tfjs-node/);
  expect(tf.env().getBool('PROD')).toBe(false);
  warn.mockRestore();
});
