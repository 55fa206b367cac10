import { writeSafetensors, type SafetensorsWriteEntry } from './writer.js';

export interface ShardedSafetensors {
  /** The `model.safetensors.index.json` object (serialise with JSON.stringify). */
  readonly index: { metadata: { total_size: number }; weight_map: Record<string, string> };
  readonly shards: readonly { readonly name: string; readonly bytes: Uint8Array }[];
}

/**
 * Splits tensors into shards of at most `maxShardBytes` of data each (a single larger tensor gets
 * a shard of its own), named `model-0000i-of-0000n.safetensors` as Hugging Face does.
 */
export function writeShardedSafetensors(
  entries: readonly SafetensorsWriteEntry[],
  options: { maxShardBytes: number; metadata?: Readonly<Record<string, string>> },
): ShardedSafetensors {
  const groups: SafetensorsWriteEntry[][] = [];
  let current: SafetensorsWriteEntry[] = [];
  let currentBytes = 0;
  let totalSize = 0;
  for (const entry of entries) {
    const bytes = entry.data.length * (entry.dtype === 'F32' ? 4 : 2);
    if (current.length > 0 && currentBytes + bytes > options.maxShardBytes) {
      groups.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(entry);
    currentBytes += bytes;
    totalSize += bytes;
  }
  if (current.length > 0 || groups.length === 0) groups.push(current);
  const pad = (n: number): string => String(n).padStart(5, '0');
  const weightMap: Record<string, string> = Object.create(null);
  const shards = groups.map((group, i) => {
    const name = `model-${pad(i + 1)}-of-${pad(groups.length)}.safetensors`;
    for (const entry of group) weightMap[entry.name] = name;
    return { name, bytes: writeSafetensors(group, options.metadata) };
  });
  return { index: { metadata: { total_size: totalSize }, weight_map: weightMap }, shards };
}
