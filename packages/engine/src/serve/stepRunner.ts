import type { FastDecoder, FastDepthKvMode, FastDepthRow, FastKvCache } from '@recur/graph';
import { shouldExit, type ExitPolicy } from '@recur/router';
import type { RowPlan, RowResult } from '@recur/scheduler';
import type { ContinueAfter } from './options.js';

/** What the step runner needs of one request: its tokens and KV, and its spans' states between steps. */
export interface RowOwner {
  /** Prompt then generated ids (position p holds tokens[p]). */
  readonly tokens: readonly number[];
  cache: FastKvCache | undefined;
  /** Hidden states [span·d] of spans in flight (ran some loops, not exited), by span start. */
  readonly states: Map<number, Float32Array>;
}

export interface StepSettings {
  readonly fast: FastDecoder;
  /** Loops of one row step: N for depth-wise, 1 for the flat (whole-model) run. */
  readonly loops: number;
  /** Loops a position reports having run when it exits at step-depth r (r + 1, or N when flat). */
  readonly depthOf: (r: number) => number;
  readonly flat: boolean;
  readonly kvMode: FastDepthKvMode;
  readonly exit: ExitPolicy | undefined;
  readonly continueAfter: ContinueAfter | undefined;
}

/** An exited sampling row's readout. */
export interface RowSample {
  readonly requestId: string;
  readonly logits: Float32Array;
  readonly depth: number;
}

/**
 * Runs one plan's rows as ONE batched depth step and decides exits: prompt spans exit at the last
 * loop; a generated token also reads out after loop r < N − 1 when the exit rule needs its logits
 * (maxProb / entropy / a router hook; 'fixed' reads out only at its depth) and leaves when the rule
 * says so — that readout is its output, and under 'copy' its KV is carried into the deeper loops.
 */
export function runStep(settings: StepSettings, rows: readonly RowPlan[], owners: ReadonlyMap<string, RowOwner>): { results: RowResult[]; samples: RowSample[] } {
  const { fast, loops } = settings;
  const { hiddenSize: d, vocabSize: V } = fast.config;
  const depthRows: FastDepthRow[] = [];
  const planned = rows.map((plan) => {
    const owner = owners.get(plan.requestId);
    if (!owner) throw new Error(`serving: plan row for unknown request ${plan.requestId}`);
    owner.cache ??= fast.newCache(plan.end);
    const span = plan.end - plan.start;
    let state = owner.states.get(plan.start);
    if (!state || state.length !== span * d) owner.states.set(plan.start, (state = new Float32Array(span * d)));
    const last = plan.depth === loops - 1;
    const probe = !last && plan.kind === 'decode' && needsReadout(settings, plan.depth);
    const logits = plan.samplesOnExit && (last || probe) ? new Float32Array(V) : undefined;
    for (let p = plan.start; p < plan.end; p++) {
      const isLast = p === plan.end - 1;
      depthRows.push({
        cache: owner.cache, pos: p, loop: plan.depth, id: owner.tokens[p]!, state: state.subarray((p - plan.start) * d, (p - plan.start + 1) * d),
        readout: last || (probe && isLast), ...(isLast && logits && { logits }),
      });
    }
    return { plan, owner, state, logits, last };
  });
  fast.runDepthRows(depthRows, { kvMode: settings.kvMode, flat: settings.flat });
  const results: RowResult[] = [];
  const samples: RowSample[] = [];
  for (const { plan, owner, state, logits, last } of planned) {
    const exited = last || (plan.kind === 'decode' && logits !== undefined && leaves(settings, plan.depth, logits, state));
    results.push({ requestId: plan.requestId, start: plan.start, end: plan.end, depth: plan.depth, exited });
    if (!exited) continue;
    owner.states.delete(plan.start);
    if (!last && !settings.flat) fast.exitPosition(owner.cache!, plan.start, plan.depth + 1, settings.kvMode);
    if (plan.samplesOnExit) samples.push({ requestId: plan.requestId, logits: logits!, depth: settings.depthOf(plan.depth) });
  }
  return { results, samples };
}

function needsReadout(settings: StepSettings, r: number): boolean {
  if (settings.continueAfter) return true;
  const { exit } = settings;
  if (!exit) return false;
  return exit.kind === 'fixed' ? r + 1 >= exit.depth : true;
}

function leaves(settings: StepSettings, r: number, logits: Float32Array, hidden: Float32Array): boolean {
  if (settings.continueAfter) return !settings.continueAfter(r, logits, hidden);
  return settings.exit !== undefined && shouldExit(logits, r, settings.exit);
}
