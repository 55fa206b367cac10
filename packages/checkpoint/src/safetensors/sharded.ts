import { CheckpointError } from '../errors.js';
import { baseName, type ByteSource } from '../bytes/source.js';
import type { TensorInfo, TensorStore } from '../tensor-info.js';
import { openSafetensors, type SafetensorsFile } from './reader.js';

/** `model.safetensors.index.json`: which shard file holds each tensor. */
export interface SafetensorsIndex {
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly weightMap: ReadonlyMap<string, string>;
}

export function parseSafetensorsIndex(file: string, json: unknown): SafetensorsIndex {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new CheckpointError('bad-index', file, 'the index must be a JSON object');
  const { weight_map: map, metadata } = json as Record<string, unknown>;
  if (typeof map !== 'object' || map === null || Array.isArray(map))
    throw new CheckpointError('bad-index', file, '"weight_map" must be an object of tensor name → shard file');
  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== 'string')
      throw new CheckpointError(
        'bad-index',
        file,
        `weight_map["${name}"] must be a file name, got ${JSON.stringify(shard)}`,
      );
    weightMap.set(name, shard);
  }
  const meta = typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>) : {};
  return { metadata: meta, weightMap };
}

/**
 * Opens every shard the index names (matched by file name among `sources`) and serves the
 * tensors the weight map lists. Refuses a shard that is not given or a tensor its shard lacks.
 * Sources the index does not name are closed; the rest close with the store.
 */
export async function openShardedSafetensors(
  indexFile: string,
  index: SafetensorsIndex,
  sources: readonly ByteSource[],
): Promise<TensorStore> {
  const byName = new Map(sources.map((s) => [baseName(s.name), s]));
  const shardNames = [...new Set(index.weightMap.values())];
  const shards = new Map<string, SafetensorsFile>();
  try {
    for (const shardName of shardNames) {
      const source = byName.get(baseName(shardName));
      if (!source)
        throw new CheckpointError(
          'missing-shard',
          indexFile,
          `weight_map names shard "${shardName}" but no such file was given`,
        );
      shards.set(shardName, await openSafetensors(source));
    }
    await Promise.all(sources.filter((s) => !shards.has(baseName(s.name))).map((s) => s.close?.()));
    return shardedStore(indexFile, index, shards);
  } catch (error) {
    await Promise.all([...shards.values()].map((s) => s.close()));
    throw error;
  }
}

function shardedStore(
  indexFile: string,
  index: SafetensorsIndex,
  shards: ReadonlyMap<string, SafetensorsFile>,
): TensorStore {
  const infos = new Map<string, Map<string, TensorInfo>>();
  for (const [shardName, shard] of shards) infos.set(shardName, new Map(shard.tensors.map((t) => [t.name, t])));
  const owner = new Map<string, SafetensorsFile>();
  const tensors: TensorInfo[] = [];
  for (const [name, shardName] of index.weightMap) {
    const shard = shards.get(shardName)!;
    const info = infos.get(shardName)?.get(name);
    if (!info)
      throw new CheckpointError(
        'missing-tensor',
        indexFile,
        `weight_map puts "${name}" in ${shardName} but that shard has no such tensor`,
      );
    owner.set(name, shard);
    tensors.push(info);
  }
  return {
    file: indexFile,
    tensors,
    has: (name) => owner.has(name),
    read: async (name) => {
      const shard = owner.get(name);
      if (!shard) throw new CheckpointError('missing-tensor', indexFile, `no tensor named "${name}" in the weight map`);
      return shard.read(name);
    },
    fileOf: (name) => owner.get(name)?.file ?? indexFile,
    close: async () => {
      await Promise.all([...shards.values()].map((s) => s.close()));
    },
  };
}
