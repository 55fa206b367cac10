import type { AdaptedModule } from '@recur/graph';

/** MoS tensors live under their own prefix (not per layer: the pools are shared by every layer). */
export const mosTensorPrefix = 'mos.';

/**
 * A module's shard pool, [public + steps × private, shard]: `mos.self_attn.q_proj.lora_A.pool`.
 * The `.lora_A.` part makes `--trainable lora` select it, like a depth-wise factor.
 */
export const mosPoolKey = (module: AdaptedModule, factor: 'A' | 'B'): string =>
  `${mosTensorPrefix}${module}.lora_${factor}.pool`;

/** A module's index table [steps, rank × shards] (integers stored as F32, exact below 2²⁴): `mos.self_attn.q_proj.index_A`. */
export const mosIndexKey = (module: AdaptedModule, factor: 'A' | 'B'): string =>
  `${mosTensorPrefix}${module}.index_${factor}`;
