import { exitDepths } from '@recur/router';
import type { LoopProbe } from './loopProbe.js';

/**
 * Each token's early-exit depth (loops run, 1..N) under a max-probability rule: the first loop whose
 * readout gives some token probability ≥ threshold. Computed from a full-depth forward (every token
 * ran every loop), so it shows where a token *could* stop. Kept in one file so the routed forward
 * of per-token depth can replace it.
 */
export function tokenDepths(probe: LoopProbe, threshold: number): Int32Array {
  return exitDepths(probe.readouts, { vocabSize: probe.vocabSize, policy: { kind: 'maxProb', threshold } });
}
