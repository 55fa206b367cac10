import { ConfigError, executionSteps, type DecoderConfig } from '../config.js';
import type { LayerCall } from '../layer.js';

/**
 * A model seen as prologue → the shared block looped N times → epilogue: what per-token depth
 * (early exit, Mixture-of-Recursions routing, continuous depth-wise batching) runs on. Depth d
 * (1..N) of a token means it ran the prologue, loops 0..d−1 and the epilogue. MIDDLE-CYCLE's unique
 * first and last layers are the prologue and epilogue; CYCLE has neither; a plain decoder is one
 * loop (N = 1).
 */
export interface LoopStructure {
  readonly prologue: readonly LayerCall[];
  /** loops[r]: the executed steps of recursion r, in order; every loop runs the same stored layers. */
  readonly loops: readonly (readonly LayerCall[])[];
  readonly epilogue: readonly LayerCall[];
  /** The stored layers of the block, in order (the layers of loops[r] for every r). */
  readonly block: readonly number[];
}

/**
 * Splits the execution order into prologue, loops and epilogue. Throws a ConfigError for orders
 * whose loops are not contiguous repeats of one block (SEQUENCE ties a layer back to back, so a
 * token cannot stop between loops).
 */
export function loopStructure(config: Pick<DecoderConfig, 'numLayers' | 'layerOrder'>): LoopStructure {
  const steps = executionSteps(config);
  const runs = new Map<number, number>();
  for (const s of steps) runs.set(s.unique, (runs.get(s.unique) ?? 0) + 1);
  const shared = (s: LayerCall): boolean => (runs.get(s.unique) ?? 0) > 1;
  const first = steps.findIndex(shared);
  if (first < 0) return { prologue: [], loops: [steps], epilogue: [], block: steps.map((s) => s.unique) };
  const last = steps.length - 1 - [...steps].reverse().findIndex(shared);
  const middle = steps.slice(first, last + 1);
  const n = runs.get(middle[0]!.unique)!;
  const k = middle.length / n;
  const loops = Array.from({ length: n }, (_, r) => middle.slice(r * k, (r + 1) * k));
  const block = loops[0]!.map((s) => s.unique);
  const cyclic =
    Number.isInteger(k) && loops.every((loop, r) => loop.every((s, j) => s.unique === block[j] && s.loop === r));
  if (!cyclic) {
    throw new ConfigError(
      'layerOrder',
      `per-token depth needs the shared layers looped as one block (cycle or middle-cycle); layer order [${steps.map((s) => s.unique).join(', ')}] is not`,
    );
  }
  return { prologue: steps.slice(0, first), loops, epilogue: steps.slice(last + 1), block };
}
