import { SchedulerError } from './errors.js';
import type { RequestState } from './requestState.js';
import type { PlacedRow } from './stepBuilder.js';
import type { StepResult } from './types.js';

/** A step result checked against its plan, reduced to the live requests (cancelled ones are ignored). */
export interface MatchedResult {
  readonly rows: ReadonlyArray<{ readonly placed: PlacedRow; readonly exited: boolean }>;
  readonly samples: ReadonlyArray<{ readonly state: RequestState; readonly finished: boolean }>;
}

const keyOf = (r: { requestId: string; start: number; end: number; depth: number }): string =>
  `${r.requestId}@${r.start}-${r.end}d${r.depth}`;

/**
 * Checks that `result` reports every planned row of a live request exactly once, that no row continues
 * past the last depth, and that exactly the exited sampling rows got a sample. Throws before anything
 * is changed, so a bad result leaves the scheduler as it was.
 */
export function matchResult(
  planned: readonly PlacedRow[],
  result: StepResult,
  isLive: (state: RequestState) => boolean,
  maxDepth: number,
): MatchedResult {
  const byKey = new Map(planned.map((p) => [keyOf(p.row), p]));
  const seen = new Set<string>();
  const rows: Array<{ placed: PlacedRow; exited: boolean }> = [];
  const samplers = new Map<string, RequestState>();
  for (const reported of result.rows) {
    const key = keyOf(reported);
    const placed = byKey.get(key);
    if (!placed || seen.has(key)) throw bad(`row ${key} was not planned, or is reported twice`);
    seen.add(key);
    if (!isLive(placed.state)) continue;
    if (!reported.exited && reported.depth + 1 >= maxDepth) {
      throw bad(`row ${key} continues past the last depth ${maxDepth - 1}; it must exit`);
    }
    rows.push({ placed, exited: reported.exited });
    if (reported.exited && placed.row.samplesOnExit) samplers.set(placed.row.requestId, placed.state);
  }
  const missing = planned.find((p) => isLive(p.state) && !seen.has(keyOf(p.row)));
  if (missing) throw bad(`planned row ${keyOf(missing.row)} is missing from the result`);
  const cancelled = new Set(planned.filter((p) => !isLive(p.state)).map((p) => p.row.requestId));
  return { rows, samples: matchSamples(result, samplers, cancelled) };
}

function matchSamples(
  result: StepResult,
  samplers: ReadonlyMap<string, RequestState>,
  cancelled: ReadonlySet<string>,
): MatchedResult['samples'] {
  const samples: Array<{ state: RequestState; finished: boolean }> = [];
  const sampled = new Set<string>();
  for (const { requestId, finished } of result.sampled) {
    if (sampled.has(requestId)) throw bad(`request ${requestId} sampled twice in one step`);
    sampled.add(requestId);
    const state = samplers.get(requestId);
    if (state) samples.push({ state, finished });
    // A request cancelled after the plan was made may still have been sampled by the engine.
    else if (!cancelled.has(requestId)) {
      throw bad(`request ${requestId} was sampled, but none of its rows that sample on exit exited in this step`);
    }
  }
  const unsampled = [...samplers.keys()].find((id) => !sampled.has(id));
  if (unsampled !== undefined) throw bad(`request ${unsampled}: its sampling row exited but no sample was reported`);
  return samples;
}

const bad = (message: string): SchedulerError => new SchedulerError('bad-result', `step result: ${message}`);
