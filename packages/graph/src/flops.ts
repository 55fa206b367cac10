import { executionOrder, type DecoderConfig } from './config.js';

/**
 * Multiply-add FLOPs (2 per MAC) of one forward over `tokens` new positions that follow `past`
 * cached ones: every projection, the LM head over `logitRows` rows (all by default), and
 * attention scores and weighted sums.
 */
export function forwardFlops(
  config: DecoderConfig,
  tokens: number,
  options: { past?: number; logitRows?: number } = {},
): number {
  const past = options.past ?? 0;
  const logitRows = options.logitRows ?? tokens;
  const { hiddenSize: d, intermediateSize: ff, headDim, numHeads, numKvHeads, vocabSize } = config;
  const steps = executionOrder(config).length; // a shared layer costs once per run
  const projections = d * (numHeads * headDim) * 2 + d * (numKvHeads * headDim) * 2 + 3 * d * ff;
  // query t (absolute position past+t) attends to past+t+1 keys: Σ over t of (past+t+1)
  const attendedKeys = tokens * past + (tokens * (tokens + 1)) / 2;
  const attention = 2 * numHeads * headDim * attendedKeys; // QKᵀ and PV
  return 2 * (steps * (projections * tokens + attention) + vocabSize * d * logitRows);
}
