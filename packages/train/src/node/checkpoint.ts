import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesSource, openSafetensors, type SafetensorsWriteEntry } from '@recur/checkpoint';
import { tf } from '@recur/tensor';
import type { AdamWState } from '../optim/adamw.js';
import type { Trainer } from '../trainer/trainer.js';
import { TrainCheckpointError } from './checkpointError.js';
import { encodeCheckpoint } from './checkpointEncode.js';
import { listCheckpointDirs, writeCheckpointDir, type AtomicWriteOptions } from './checkpointFiles.js';
import {
  checkIdentity,
  parseState,
  sha256,
  STATE_FILE,
  MODEL_FILE,
  OPTIMIZER_FILE,
  type CheckpointState,
  type ModelIdentity,
} from './checkpointState.js';

export interface SaveCheckpointOptions extends AtomicWriteOptions {
  readonly trainer: Trainer;
  /** Every tensor of the model by name, trained or not (so the checkpoint alone rebuilds it). */
  readonly model: ReadonlyMap<string, tf.Tensor>;
  readonly identity: ModelIdentity;
  /** The run's options (any JSON), stored for the record and for resuming with the same settings. */
  readonly options?: Readonly<Record<string, unknown>>;
}

export interface LoadedCheckpoint {
  readonly dir: string;
  readonly state: CheckpointState;
  /** Model tensors by name. */
  readonly tensors: Map<string, { data: Float32Array; shape: number[] }>;
  readonly moments: AdamWState;
  /** Newer checkpoint directories that were passed over, and why. */
  readonly skipped: { dir: string; reason: string }[];
}

/**
 * Saves weights, moments and run state as `<root>/step-<n>` (atomic; keeps the newest `keep`). Returns the directory.
 */
export async function saveCheckpoint(root: string, options: SaveCheckpointOptions): Promise<string> {
  const { trainer } = options;
  const model: SafetensorsWriteEntry[] = [];
  for (const [name, t] of options.model)
    model.push({ name, shape: t.shape, dtype: 'F32', data: (await t.data()) as Float32Array });
  const optimizerState = trainer.optimizer.state();
  const moments: SafetensorsWriteEntry[] = [];
  for (const [name, p] of trainer.params) {
    moments.push({ name: `m.${name}`, shape: p.shape, dtype: 'F32', data: optimizerState.m.get(name)! });
    moments.push({ name: `v.${name}`, shape: p.shape, dtype: 'F32', data: optimizerState.v.get(name)! });
  }
  const { optimizer } = trainer;
  const files = encodeCheckpoint(
    {
      step: trainer.step,
      trainer: trainer.state(),
      schedule: trainer.schedule,
      optimizer: {
        kind: 'adamw',
        step: optimizer.step,
        beta1: optimizer.beta1,
        beta2: optimizer.beta2,
        epsilon: optimizer.epsilon,
        weightDecay: optimizer.weightDecay,
      },
      identity: options.identity,
      trainable: [...trainer.params.keys()],
      options: options.options ?? {},
    },
    model,
    moments,
  );
  return writeCheckpointDir(root, trainer.step, files, options);
}

/** The newest complete, intact checkpoint under root (damaged or partial ones are skipped), or undefined. */
export async function loadLatestCheckpoint(root: string): Promise<LoadedCheckpoint | undefined> {
  const skipped: { dir: string; reason: string }[] = [];
  for (const { dir } of await listCheckpointDirs(root)) {
    try {
      return { ...(await loadCheckpointDir(dir)), skipped };
    } catch (err) {
      if (!(err instanceof TrainCheckpointError)) throw err;
      skipped.push({ dir, reason: err.message });
    }
  }
  return undefined;
}

/** Reads one checkpoint directory, checking every file's size and sha256 against state.json. */
export async function loadCheckpointDir(dir: string): Promise<Omit<LoadedCheckpoint, 'skipped'>> {
  const stateFile = join(dir, STATE_FILE);
  const text = await readFile(stateFile, 'utf8').catch(() => {
    throw new TrainCheckpointError('incomplete', stateFile, 'missing or unreadable (an interrupted save?)');
  });
  const state = parseState(text, stateFile);
  const model = await readTensors(dir, MODEL_FILE, state);
  const moments = await readTensors(dir, OPTIMIZER_FILE, state);
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const name of state.trainable) {
    const pick = (key: string) => {
      const entry = moments.get(key);
      if (!entry) throw new TrainCheckpointError('incomplete', join(dir, OPTIMIZER_FILE), `has no tensor ${key}`);
      return entry.data;
    };
    m.set(name, pick(`m.${name}`));
    v.set(name, pick(`v.${name}`));
  }
  return { dir, state, tensors: model, moments: { step: state.optimizer.step, m, v } };
}

/**
 * Puts a trainer back where the checkpoint left it: trained weights, AdamW moments and step, RNG
 * and data position. Refuses (TrainCheckpointError 'model-mismatch') a checkpoint of another model
 * or of another set of trained parameters.
 */
export function resumeTraining(
  trainer: Trainer,
  loaded: LoadedCheckpoint | Omit<LoadedCheckpoint, 'skipped'>,
  identity: ModelIdentity,
): void {
  const stateFile = join(loaded.dir, STATE_FILE);
  checkIdentity(loaded.state.identity, identity, stateFile);
  const names = [...trainer.params.keys()];
  const saved = new Set(loaded.state.trainable);
  const differs = names.find((n) => !saved.has(n)) ?? loaded.state.trainable.find((n) => !trainer.params.has(n));
  if (differs !== undefined || names.length !== saved.size) {
    throw new TrainCheckpointError(
      'model-mismatch',
      stateFile,
      `field trainable differs from this run's trained parameters (first difference: ${differs ?? 'count'})`,
    );
  }
  for (const [name, variable] of trainer.params) {
    const t = loaded.tensors.get(name);
    if (!t) throw new TrainCheckpointError('model-mismatch', join(loaded.dir, MODEL_FILE), `has no tensor ${name}`);
    tf.tidy(() => variable.assign(tf.tensor(t.data, variable.shape, 'float32')));
  }
  trainer.optimizer.loadState(loaded.moments);
  trainer.restore(loaded.state.trainer);
}

async function readTensors(
  dir: string,
  name: string,
  state: CheckpointState,
): Promise<Map<string, { data: Float32Array; shape: number[] }>> {
  const path = join(dir, name);
  const expected = state.files[name];
  if (!expected)
    throw new TrainCheckpointError('bad-state', join(dir, STATE_FILE), `field files has no entry for ${name}`);
  const bytes = await readFile(path).catch(() => {
    throw new TrainCheckpointError('incomplete', path, 'missing or unreadable');
  });
  if (bytes.byteLength !== expected.bytes || sha256(bytes) !== expected.sha256) {
    throw new TrainCheckpointError(
      'incomplete',
      path,
      `has ${bytes.byteLength} bytes / a different sha256 than state.json records (${expected.bytes} bytes): damaged or partial`,
    );
  }
  const file = await openSafetensors(
    bytesSource(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path),
  );
  const out = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const info of file.tensors) out.set(info.name, { data: await file.read(info.name), shape: [...info.shape] });
  await file.close();
  return out;
}
