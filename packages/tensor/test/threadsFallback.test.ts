import { describe, expect, it, vi } from 'vitest';
import { initBackend, linear, tf, wasmThreads } from '../src/index.js';

vi.mock('../src/threads/threadedWasmModule.js', () => ({
  loadThreadedWasmModule: () => Promise.reject(new Error('simulated: no threaded binary')),
  trimPthreadWorkers: () => undefined,
}));

describe('wasm threads that cannot start', () => {
  it('fall back to the single-thread wasm backend with a warning', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(await initBackend({ backend: 'wasm', threads: 2 })).toBe('wasm');
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(/wasm threads unavailable \(simulated: no threaded binary\); using one thread/),
    );
    expect(wasmThreads()).toBe(1);
    const y = tf.tidy(() =>
      linear(
        tf.tensor2d([[1, 2, 3]]),
        tf.tensor2d([
          [1, 0, 0],
          [0, 1, 1],
        ]),
      ),
    );
    expect(Array.from(y.dataSync())).toEqual([1, 5]);
    y.dispose();
    warn.mockRestore();
  });
});
