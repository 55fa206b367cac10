/**
 * The kinds of per-loop LoRA a converted model can carry, with one line each for `--help`. Adding a
 * kind = one entry here plus its init/load code; commands list the registry instead of repeating it.
 */
export const loraKinds = {
  depthwise: 'one A, B pair per (stored layer, loop, module) (Bae et al. 2024)',
  mos: 'A and B rank vectors concatenated from shards of shared pools (MoS, Wang et al. 2024)',
} as const;

export type LoraKind = keyof typeof loraKinds;

export function isLoraKind(value: string): value is LoraKind {
  return Object.hasOwn(loraKinds, value);
}
