/**
 * The kinds of per-loop LoRA a converted model can carry, with one line each for `--help`. config.json
 * records the kind as `recur.loraKind` (absent = depthwise) and its settings in their own section
 * (`recur.mos`, `recur.hyper`). Adding a kind = one entry here plus its init/load code; commands list
 * the registry instead of repeating it.
 */
export const loraKinds = {
  depthwise:
    'one A, B pair per (stored layer, loop, module) (Relaxed Recursive Transformers, Bae et al. 2024, arXiv 2410.20672)',
  mos: 'A and B rank vectors concatenated from shards of shared pools (MoS, Wang et al. 2024, arXiv 2410.00938)',
  hyper:
    "each (layer, loop) A, B generated from [loop ; position] embeddings (Polyhistor's decomposed hypernetworks, Liu et al. 2022, arXiv 2210.03265)",
  scaled:
    "one template A, B per stored layer, a scale per loop (Polyhistor's layer-wise scaling, Liu et al. 2022, arXiv 2210.03265)",
} as const;

export type LoraKind = keyof typeof loraKinds;

export function isLoraKind(value: string): value is LoraKind {
  return Object.hasOwn(loraKinds, value);
}
