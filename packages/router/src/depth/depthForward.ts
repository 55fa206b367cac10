import { tf } from '@recur/tensor';
import type { Decoder, DepthKvCache } from '@recur/graph';
import { scatterGatedUpdate } from '../expert/scatterGatedUpdate.js';

/** Who runs loop r, chosen among the tokens that ran loop r − 1 (row indices of this call, ascending). */
export interface LoopChoice {
  readonly selected: Int32Array;
  /** Gates of the selected rows [k], for the 'gated' update (the routing owns it). */
  readonly gate?: tf.Tensor1D;
}

/**
 * A per-token depth rule: early exit, an expert-choice or a token-choice router. `choose` runs before
 * every loop r (r = 0 included) with the current hidden states of all rows h [T, d], the candidates,
 * and `probe()`: the candidates' readout at their current state (epilogue + final norm + LM head,
 * [A, V]; its epilogue keys are overwritten when the token really leaves).
 */
export interface LoopRouting {
  /**
   * 'replace': h_sel ← Block(h_sel) (early exit). 'gated': h_sel ← h_sel + g·Block(h_sel) at every loop
   * (MoR eq. 1 read literally). 'gated-once': loops run ungated and each row ends at h₀ + g·f^r(h₀),
   * h₀ its state entering loop 0 (the public token-choice MoR code); `finalGate` gives g.
   */
  readonly update: 'replace' | 'gated' | 'gated-once';
  choose(recursion: number, h: tf.Tensor2D, candidates: Int32Array, probe: () => tf.Tensor2D): LoopChoice;
  /** 'gated-once': the gate of every row of the call [T], read after the loops. */
  finalGate?(): tf.Tensor1D;
}

export interface DepthForwardOptions {
  /** Per-token-depth cache; the call appends its T positions after cache.length. */
  readonly cache: DepthKvCache;
  /** Without one every token runs every loop (what prompts do at decode time). */
  readonly routing?: LoopRouting;
  /** Logits of the last row only ([1, V]). */
  readonly lastOnly?: boolean;
}

export interface DepthForwardResult {
  /** [T, V], or [1, V] with lastOnly. The caller disposes it. */
  readonly logits: tf.Tensor2D;
  /** Loops each row ran, 1..N. */
  readonly depths: Int32Array;
  /** Rows that ran each loop: activePerLoop[r] (what KV accounting reads). */
  readonly activePerLoop: readonly number[];
}

/**
 * The forward of a recursive decoder where each token runs its own number of loops: prologue on all
 * rows, loop r on the rows `routing` keeps (hierarchically: only rows that ran r − 1), the epilogue
 * on all rows at their exit states, then the LM head. A row that stops after depth d is announced to
 * the cache (`exit`), whose KV mode says what deeper loops see of it. Causal whenever `choose` reads
 * only each row's own state (thresholds, early-exit policies, token-choice): a row's depth then
 * depends on earlier tokens only. Call inside tf.tidy (or a gradient function): intermediate states
 * are left for the tidy so autodiff can use them.
 */
export function depthForward(
  decoder: Decoder,
  ids: ArrayLike<number>,
  options: DepthForwardOptions,
): DepthForwardResult {
  const { cache, routing } = options;
  const { prologue, loops, epilogue } = decoder.loops;
  const start = cache.length;
  const tokens = ids.length;
  const positions = Int32Array.from({ length: tokens }, (_, t) => start + t);
  const at = (rows: Int32Array): Int32Array => rows.map((t) => positions[t]!);
  const depths = new Int32Array(tokens);
  const activePerLoop: number[] = [];
  let h = decoder.runLayers(decoder.embed(ids), prologue, { positions, cache }); // [T, d]
  const h0 = h;
  let candidates: Int32Array = Int32Array.from({ length: tokens }, (_, t) => t);
  for (let r = 0; r < loops.length && candidates.length > 0; r++) {
    const hNow = h;
    const probe = (): tf.Tensor2D => {
      const rows = tf.gather(hNow, tf.tensor1d(candidates, 'int32')) as tf.Tensor2D; // [A, d]
      return decoder.head(decoder.runLayers(rows, epilogue, { positions: at(candidates), cache })); // [A, V]
    };
    const choice = routing ? routing.choose(r, h, candidates, probe) : { selected: candidates };
    checkChoice(choice.selected, candidates, r);
    const kept = new Set(choice.selected);
    const leaving = candidates.filter((t) => !kept.has(t));
    if (leaving.length > 0) cache.exit(at(leaving), r);
    candidates = choice.selected;
    activePerLoop.push(candidates.length);
    if (candidates.length === 0) break;
    for (const t of candidates) depths[t] = r + 1;
    const hSel = tf.gather(h, tf.tensor1d(candidates, 'int32')) as tf.Tensor2D; // [k, d]
    const out = decoder.runLayers(hSel, loops[r]!, { positions: at(candidates), cache }); // [k, d]
    h =
      routing?.update === 'gated'
        ? scatterGatedUpdate(h, candidates, out, gateOf(choice, r))
        : scatterRows(h, candidates, out);
  }
  if (routing?.update === 'gated-once') h = gateOnce(h0, h, routing, tokens);
  h = decoder.runLayers(h, epilogue, { positions, cache });
  if (options.lastOnly) h = tf.slice(h, [tokens - 1, 0], [1, -1]); // [1, d]
  const logits = decoder.head(h);
  cache.advance(tokens);
  return { logits, depths, activePerLoop };
}

function checkChoice(selected: Int32Array, candidates: Int32Array, r: number): void {
  const allowed = new Set(candidates);
  for (let j = 0; j < selected.length; j++) {
    if (!allowed.has(selected[j]!) || (j > 0 && selected[j]! <= selected[j - 1]!)) {
      throw new RangeError(
        `routing at loop ${r}: selected rows must be ascending candidates, got [${Array.from(selected)}] from [${Array.from(candidates)}]`,
      );
    }
  }
  if (r === 0 && selected.length !== candidates.length)
    throw new RangeError('routing: every token runs loop 0 (depth ≥ 1)');
}

function gateOf(choice: LoopChoice, r: number): tf.Tensor1D {
  if (!choice.gate) throw new RangeError(`routing at loop ${r}: the 'gated' update needs a gate per selected row`);
  return choice.gate;
}

/** h₀ + g·h row-wise: each row's ungated exit state h = f^r(h₀) added once, gated, to its entry state. */
function gateOnce(h0: tf.Tensor2D, h: tf.Tensor2D, routing: LoopRouting, tokens: number): tf.Tensor2D {
  const gate = routing.finalGate?.();
  if (!gate || gate.shape[0] !== tokens)
    throw new RangeError(`routing: the 'gated-once' update needs a final gate per row (${tokens})`);
  return tf.add(h0, tf.mul(h, tf.reshape(gate, [tokens, 1]))) as tf.Tensor2D; // [T, d]
}

/** h with rows `selected` replaced by `rows`: [T, d]. */
function scatterRows(h: tf.Tensor2D, selected: Int32Array, rows: tf.Tensor2D): tf.Tensor2D {
  const tokens = h.shape[0];
  if (selected.length === tokens) return rows;
  const source = Int32Array.from({ length: tokens }, (_, t) => t);
  selected.forEach((t, j) => (source[t] = tokens + j));
  return tf.gather(tf.concat([h, rows], 0), tf.tensor1d(source, 'int32')) as tf.Tensor2D; // [T, d]
}
