import type { tf } from '@recur/tensor';
import type { Decoder } from '@recur/graph';

/**
 * The model's output at every exit depth, for early-exit training (Relaxed Recursive Transformers,
 * Bae et al. 2024, §3.4): readouts[d − 1] = head(epilogue(h after loop d)) [T, V] — exactly what a
 * token leaving after d loops outputs at decode time (and what `fixed:d` evaluates). The loops run
 * once at full depth; each depth's epilogue attends through its own fresh cache, as if every token
 * of the sequence had left there. Call inside tf.tidy or a gradient function.
 */
export function exitReadouts(decoder: Decoder, ids: ArrayLike<number>): tf.Tensor2D[] {
  return exitStates(decoder, ids).map((state) => decoder.lmHead(state));
}

/**
 * The state each exit's LM head reads: finalNorm(epilogue(h after loop d)) [T, d] per loop d, shallowest
 * first (feature self-distillation compares these; `exitReadouts` is the LM head on them).
 */
export function exitStates(decoder: Decoder, ids: ArrayLike<number>): tf.Tensor2D[] {
  const { prologue, loops, epilogue } = decoder.loops;
  const positions = Int32Array.from({ length: ids.length }, (_, t) => t);
  const cache = decoder.newCache();
  try {
    let h = decoder.runLayers(decoder.embed(ids), prologue, { positions, cache }); // [T, d]
    return loops.map((loop) => {
      h = decoder.runLayers(h, loop, { positions, cache });
      if (epilogue.length === 0) return decoder.finalNorm(h); // [T, d]
      const exitCache = decoder.newCache();
      try {
        return decoder.finalNorm(decoder.runLayers(h, epilogue, { positions, cache: exitCache })); // [T, d]
      } finally {
        exitCache.dispose();
      }
    });
  } finally {
    cache.dispose();
  }
}
