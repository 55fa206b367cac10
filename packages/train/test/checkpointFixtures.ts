import type { SafetensorsWriteEntry } from '@recur/checkpoint';
import type { CheckpointStateBase } from '../src/node/checkpointEncode.js';

/** Tensors whose values encode the step, so a test can tell which save it reads. */
export function fakeTensors(step: number, prefix: string): SafetensorsWriteEntry[] {
  return [0, 1, 2].map((i) => ({
    name: `${prefix}.${i}`,
    shape: [64, 64],
    dtype: 'F32',
    data: new Float32Array(64 * 64).fill(step * 10 + i),
  }));
}

export function fakeCheckpointBase(step: number): CheckpointStateBase {
  return {
    step,
    trainer: { step, rng: 1, data: { cursor: step } },
    schedule: { kind: 'constant', lr: 1e-3 },
    optimizer: { kind: 'adamw', step, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
    identity: { configHash: 'test', tensors: {} },
    trainable: [],
    options: {},
  };
}
