import { afterEach, describe, expect, it, vi } from 'vitest';
import { activeBackend, initBackend, tf, WebGpuUnavailableError } from '../src/index.js';

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

  it.runIf(process.platform === 'linux')(
    'webgpu in Node without a Vulkan driver fails with a typed error naming VK_ICD_FILENAMES',
    async () => {
      const icd = process.env.VK_ICD_FILENAMES;
      process.env.VK_ICD_FILENAMES = '/nonexistent/recur_icd.json';
      try {
        const failure = initBackend({ backend: 'webgpu' });
        await expect(failure).rejects.toThrow(WebGpuUnavailableError);
        await expect(failure).rejects.toThrow(
          /VK_ICD_FILENAMES names a Vulkan driver manifest that does not exist \(\/nonexistent\/recur_icd\.json\)/,
        );
        expect(activeBackend()).not.toBe('webgpu');
      } finally {
        if (icd === undefined) delete process.env.VK_ICD_FILENAMES;
        else process.env.VK_ICD_FILENAMES = icd;
      }
    },
  );

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
