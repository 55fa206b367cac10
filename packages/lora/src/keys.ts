import type { AdaptedModule, NormName } from '@recur/graph';

/**
 * Checkpoint keys of depth-wise adapters: one per (stored layer, loop, module), beside the shared
 * weight they adapt, e.g. `model.layers.1.self_attn.q_proj.lora_A.loop2.weight`.
 */
export const loraKey = (unique: number, module: AdaptedModule, loop: number, factor: 'A' | 'B'): string =>
  `model.layers.${unique}.${module}.lora_${factor}.loop${loop}.weight`;

/** Per-loop RMSNorm weights (`--norms per-loop`): `model.layers.1.input_layernorm.loop2.weight`. */
export const loopNormKey = (unique: number, name: NormName, loop: number): string =>
  `model.layers.${unique}.${name}.loop${loop}.weight`;
