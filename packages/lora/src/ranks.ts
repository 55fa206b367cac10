import type { AdaptedModule } from '@recur/graph';

/** LoRA ranks per module group (Bae et al. 2024 set attention and MLP ranks apart). 'full' = min(out, in). */
export interface LoraRanks {
  readonly attention: number | 'full';
  readonly mlp: number | 'full';
}

export function rankFor(ranks: LoraRanks, module: AdaptedModule, shape: readonly [number, number]): number {
  const wanted = module.startsWith('mlp.') ? ranks.mlp : ranks.attention;
  return wanted === 'full' ? Math.min(shape[0], shape[1]) : wanted;
}
