import { afterEach, describe, expect, it, vi } from 'vitest';
import { activeBackend, initBackend, tf } from '../src/index.js';

describe('initBackend (Node)', () => {
  const saved = process.env.RECUR_BACKEND;
  afterEach(() => {
    if (saved === undefined) delete process.env.RECUR_BACKEND;
    else process.env.RECUR_BACKEND = saved;
  });

  it('picks wasm by default and is idempotent', async () => {
    delete process.env.RECUR_BACKEND;
    const warn = vi.spyOn(console, 'warn');
    expect(await initBackend()).toBe('wasm');
    const instance = tf.backend();
    expect(await initBackend()).toBe('wasm');
    expect(tf.backend()).toBe(instance);
    expect(activeBackend()).toBe('wasm');
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
  });

  it('computes on wasm', async () => {
    await initBackend({ backend: 'wasm' });
    const sum = tf.tidy(() => tf.sum(tf.tensor1d([1, 2, 3])).dataSync()[0]);
    expect(sum).toBe(6);
  });

  it('honours an explicit backend and RECUR_BACKEND, option first', async () => {
    process.env.RECUR_BACKEND = 'cpu';
    expect(await initBackend()).toBe('cpu');
    expect(activeBackend()).toBe('cpu');
    expect(await initBackend({ backend: 'wasm' })).toBe('wasm');
  });

  it('rejects an unknown RECUR_BACKEND by name', async () => {
    process.env.RECUR_BACKEND = 'webgl';
    await expect(initBackend()).rejects.toThrow(/RECUR_BACKEND='webgl'/);
  });

  it('refuses webgpu in Node with a clear error', async () => {
    await expect(initBackend({ backend: 'webgpu' })).rejects.toThrow(/browser-only/);
    expect(activeBackend()).not.toBe('webgpu');
  });

  it('serialises concurrent calls', async () => {
    delete process.env.RECUR_BACKEND;
    const results = await Promise.all([
      initBackend({ backend: 'cpu' }),
      initBackend(),
      initBackend({ backend: 'cpu' }),
    ]);
    expect(results).toEqual(['cpu', 'wasm', 'cpu']);
    expect(activeBackend()).toBe('cpu');
  });
});
