import { writeSafetensors, type SafetensorsWriteEntry } from '@recur/checkpoint';
import {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  MODEL_FILE,
  OPTIMIZER_FILE,
  sha256,
  STATE_FILE,
  type CheckpointState,
} from './checkpointState.js';

/** state.json without the bookkeeping fields that encoding fills in. */
export type CheckpointStateBase = Omit<CheckpointState, 'format' | 'version' | 'files'>;

/**
 * The bytes of one checkpoint: model tensors, optimizer moments (`m.<name>`, `v.<name>`), and
 * state.json listing both files' sizes and hashes. Plain data in, no tensors: a save can be
 * serialised here and written anywhere.
 */
export function encodeCheckpoint(
  base: CheckpointStateBase,
  model: readonly SafetensorsWriteEntry[],
  moments: readonly SafetensorsWriteEntry[],
): { name: string; bytes: Uint8Array }[] {
  const tensorFiles = [
    { name: MODEL_FILE, bytes: writeSafetensors(model, { format: 'pt' }) },
    { name: OPTIMIZER_FILE, bytes: writeSafetensors(moments, { format: 'pt' }) },
  ];
  const files: Record<string, { bytes: number; sha256: string }> = {};
  for (const f of tensorFiles) files[f.name] = { bytes: f.bytes.byteLength, sha256: sha256(f.bytes) };
  const state: CheckpointState = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, ...base, files };
  return [...tensorFiles, { name: STATE_FILE, bytes: new TextEncoder().encode(`${JSON.stringify(state, null, 1)}\n`) }];
}
