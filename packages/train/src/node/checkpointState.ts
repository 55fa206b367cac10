import { createHash } from 'node:crypto';
import type { LrSchedule } from '../optim/schedule.js';
import type { TrainerState } from '../trainer/trainer.js';
import { TrainCheckpointError } from './checkpointError.js';

export const CHECKPOINT_FORMAT = 'recur-train-checkpoint';
export const CHECKPOINT_VERSION = 1;
export const STATE_FILE = 'state.json';
export const MODEL_FILE = 'model.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';

/** What a checkpoint was saved for: a hash of the model config and every model tensor's shape. */
export interface ModelIdentity {
  readonly configHash: string;
  readonly tensors: Readonly<Record<string, readonly number[]>>;
}

export interface OptimizerRecord {
  readonly kind: 'adamw';
  readonly step: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
}

/** state.json: everything but the tensors. */
export interface CheckpointState {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly version: number;
  readonly step: number;
  readonly trainer: TrainerState;
  readonly schedule: LrSchedule;
  readonly optimizer: OptimizerRecord;
  readonly identity: ModelIdentity;
  /** Names of the trained parameters (their moments are in optimizer.safetensors as `m.<name>`, `v.<name>`). */
  readonly trainable: readonly string[];
  /** The run's training options, as the caller gave them. */
  readonly options: Readonly<Record<string, unknown>>;
  /** Every tensor file with its size and sha256, checked on load. */
  readonly files: Readonly<Record<string, { readonly bytes: number; readonly sha256: string }>>;
}

/** Identity of a model from its config (any JSON; keys sorted before hashing) and tensor shapes. */
export function modelIdentity(
  config: unknown,
  tensors: ReadonlyMap<string, { readonly shape: readonly number[] }>,
): ModelIdentity {
  const shapes: Record<string, number[]> = {};
  for (const [name, t] of tensors) shapes[name] = [...t.shape];
  return { configHash: sha256(stableJson(config)), tensors: shapes };
}

/** Throws a 'model-mismatch' error naming the first differing field or tensor. */
export function checkIdentity(saved: ModelIdentity, current: ModelIdentity, file: string): void {
  if (saved.configHash !== current.configHash) {
    throw new TrainCheckpointError(
      'model-mismatch',
      file,
      `identity.configHash ${saved.configHash.slice(0, 12)}… differs from this model's ${current.configHash.slice(0, 12)}… (saved for a different model config)`,
    );
  }
  for (const [name, shape] of Object.entries(current.tensors)) {
    const had = saved.tensors[name];
    if (!had)
      throw new TrainCheckpointError(
        'model-mismatch',
        file,
        `identity.tensors has no ${name} (saved for a different model)`,
      );
    if (had.join(',') !== shape.join(',')) {
      throw new TrainCheckpointError(
        'model-mismatch',
        file,
        `identity.tensors.${name} is [${had}] but this model's is [${shape}]`,
      );
    }
  }
  const extra = Object.keys(saved.tensors).find((name) => !(name in current.tensors));
  if (extra !== undefined)
    throw new TrainCheckpointError('model-mismatch', file, `identity.tensors has ${extra}, which this model lacks`);
}

/** Parses and checks state.json's top-level fields. */
export function parseState(text: string, file: string): CheckpointState {
  let state: Partial<CheckpointState>;
  try {
    state = JSON.parse(text) as Partial<CheckpointState>;
  } catch (err) {
    throw new TrainCheckpointError('bad-state', file, `not JSON (${(err as Error).message})`);
  }
  if (state.format !== CHECKPOINT_FORMAT)
    throw new TrainCheckpointError(
      'bad-state',
      file,
      `format is ${String(state.format)}, expected ${CHECKPOINT_FORMAT}`,
    );
  if (state.version !== CHECKPOINT_VERSION)
    throw new TrainCheckpointError(
      'bad-state',
      file,
      `version ${String(state.version)} is not supported (expected ${CHECKPOINT_VERSION})`,
    );
  for (const field of ['step', 'trainer', 'schedule', 'optimizer', 'identity', 'trainable', 'files'] as const) {
    if (state[field] === undefined) throw new TrainCheckpointError('bad-state', file, `field ${field} is missing`);
  }
  return state as CheckpointState;
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** JSON with object keys sorted at every level, so equal configs hash equally. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
