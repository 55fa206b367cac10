import { beforeAll } from 'vitest';
import { initBackend, tf } from '../../src/index.js';

/** The backends every op is checked on. */
export const BACKENDS = ['wasm', 'cpu'] as const;

/** Inside a describe: switch tfjs to `backend` before its tests (after initBackend set wasm's paths). */
export function useBackend(backend: (typeof BACKENDS)[number]): void {
  beforeAll(async () => {
    await initBackend();
    await tf.setBackend(backend);
  });
}

/** Runs `call`, disposes its result, and returns the result's data plus the tensor-count change. */
export function runAndCount(call: () => tf.Tensor): { data: Float32Array; shape: number[]; leaked: number } {
  const before = tf.memory().numTensors;
  const out = call();
  const data = out.dataSync() as Float32Array;
  const shape = out.shape;
  out.dispose();
  return { data, shape, leaked: tf.memory().numTensors - before };
}
