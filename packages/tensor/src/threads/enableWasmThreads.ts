import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { registerKernel } from '../kernels.js';
import { registerThreadedGemv } from './gemvTfjsKernel.js';
import { linearThreaded } from './linearThreaded.js';
import { ThreadedBackendWasm, createThreadedBackend } from './threadedBackend.js';

const WASM_PRIORITY = 2; // tfjs-backend-wasm's own

/**
 * Node only: makes the (not yet started) 'wasm' backend start on `threads` threads. If the threaded
 * binary or its workers fail, the backend starts single-threaded as before, with a warning.
 * Returns false, doing nothing, when the wasm backend is already running (its tensors would be lost).
 */
export function enableWasmThreads(threads: number): boolean {
  const running = tf.findBackend('wasm');
  if (running !== null) return running instanceof ThreadedBackendWasm;
  const singleThreaded = tf.findBackendFactory('wasm') as ReturnType<typeof tf.findBackendFactory> | null;
  if (singleThreaded === null) throw new Error('tfjs-backend-wasm did not register a wasm backend');
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      try {
        return await createThreadedBackend(threads);
      } catch (err) {
        console.warn(
          `recur: wasm threads unavailable (${err instanceof Error ? err.message : String(err)}); using one thread`,
        );
        return singleThreaded();
      }
    },
    WASM_PRIORITY,
  );
  registerThreadedGemv();
  registerKernel('RecurLinear', 'wasm', linearThreaded);
  return true;
}

/** Threads the running wasm backend computes on: 1 unless it is the threaded one. */
export function runningWasmThreads(): number {
  const running = tf.findBackend('wasm');
  return running instanceof ThreadedBackendWasm ? getThreadsCount() : 1;
}
