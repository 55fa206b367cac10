import type { DepthRouting, FastDepthRow } from '@recur/graph';
import type { RowPlan, RowResult } from '@recur/scheduler';
import { routeAfterLoop, type PositionRoute } from './routeAfterLoop.js';
import type { RowOwner, RowSample, StepSettings } from './stepRunner.js';

/** Positions [start, start + n) of one request in flight under a router. */
interface RoutedSpan {
  readonly start: number;
  /** [n·d]: each position's state after the last loop it ran (its exit state once it left). */
  readonly state: Float32Array;
  /** [n·d]: each position's state entering loop 0 (after the prologue). */
  readonly entry: Float32Array;
  readonly routes: PositionRoute[];
  /** exits[i]: the depth position start + i left at (0 while it runs). */
  readonly exits: Int32Array;
  /** The sampling position's logits [V] and depth, once read out. */
  sample?: { readonly logits: Float32Array; readonly depth: number };
}

/** A request's routed positions: spans in flight, and how far the readouts (epilogue, head) have gone. */
export interface RoutedSequence {
  readonly spans: Map<number, RoutedSpan>;
  /** Positions below this one have been read out. */
  readOut: number;
}

/** A request as the routed step sees it; `routed` is dropped with its KV on a preemption. */
export interface RoutedOwner extends RowOwner {
  routed: RoutedSequence | undefined;
}

interface Running {
  readonly plan: RowPlan;
  readonly owner: RoutedOwner;
  readonly seq: RoutedSequence;
  readonly span: RoutedSpan;
  /** Positions that ran this step: index in the span, and the state that entered the loop. */
  readonly positions: { readonly i: number; readonly entering: Float32Array }[];
}

/**
 * One plan's rows under the model's router, as ONE batched depth step: every position — prompt and
 * generated — runs the plan's loop, then is routed (routeAfterLoop). A position that leaves gets no
 * deeper loop; its KV is carried forward under 'copy'. Leaving rows are then read out (epilogue, and
 * final norm + LM head for a sampling position) in a second batched call — in position order per
 * request, once every earlier position has left, because the epilogue attends to their epilogue keys
 * as fastDepthForward's does. A row exits when all its positions were read out. Replayed generated
 * positions leave at the depth they ran before (a preempted request's tokens do not change).
 */
export function runRoutedStep(
  settings: StepSettings & { readonly routing: DepthRouting },
  rows: readonly RowPlan[],
  owners: ReadonlyMap<string, RoutedOwner>,
): { results: RowResult[]; samples: RowSample[] } {
  const { fast, kvMode } = settings;
  const d = fast.config.hiddenSize;
  const depthRows: FastDepthRow[] = [];
  const running = rows.map((plan): Running => {
    const owner = owners.get(plan.requestId);
    if (!owner) throw new Error(`serving: plan row for unknown request ${plan.requestId}`);
    owner.cache ??= fast.newCache(plan.end, kvMode);
    owner.routed ??= { spans: new Map(), readOut: 0 };
    const seq = owner.routed;
    const span = spanFor(seq, plan, d);
    const positions: Running['positions'] = [];
    span.exits.forEach((exit, i) => {
      if (exit > 0) return;
      const state = view(span.state, i, d);
      positions.push({ i, entering: plan.depth === 0 ? view(span.entry, i, d) : state.slice() });
      const pos = span.start + i;
      depthRows.push({
        cache: owner.cache!,
        pos,
        loop: plan.depth,
        id: owner.tokens[pos]!,
        state,
        adapter: owner.adapter ?? 0,
        ...(plan.depth === 0 && { entry: view(span.entry, i, d) }),
      });
    });
    return { plan, owner, seq, span, positions };
  });
  fast.runDepthRows(depthRows, { kvMode });
  for (const { plan, owner, span, positions } of running) {
    for (const { i, entering } of positions) {
      const pos = span.start + i;
      const generated = pos - owner.promptLength + 1; // index of the token this position produced, when replayed
      const forced =
        generated >= 0 && generated < owner.depths.length && pos < owner.tokens.length - 1
          ? owner.depths[generated]
          : undefined;
      const rows = { h: view(span.state, i, d), entering, entry: view(span.entry, i, d) };
      if (!routeAfterLoop(settings.routing, settings.loops, plan.depth, rows, span.routes[i]!, forced)) continue;
      span.exits[i] = plan.depth + 1;
      if (plan.depth + 1 < settings.loops) fast.exitPosition(owner.cache!, pos, plan.depth + 1, kvMode);
    }
  }
  readOut(settings, running);
  return report(running);
}

/** The span a row continues, or a fresh one when it starts (depth 0). */
function spanFor(seq: RoutedSequence, plan: RowPlan, d: number): RoutedSpan {
  const n = plan.end - plan.start;
  const held = seq.spans.get(plan.start);
  if (held && plan.depth > 0 && held.exits.length === n) return held;
  const span: RoutedSpan = {
    start: plan.start,
    state: new Float32Array(n * d),
    entry: new Float32Array(n * d),
    routes: Array.from({ length: n }, () => ({ gate: 0, depth: 0 })),
    exits: new Int32Array(n),
  };
  seq.spans.set(plan.start, span);
  return span;
}

/** Reads out, in one batched call, every request's left positions that follow its last read-out one. */
function readOut(settings: StepSettings, running: readonly Running[]): void {
  const V = settings.fast.config.vocabSize;
  const d = settings.fast.config.hiddenSize;
  const rows: FastDepthRow[] = [];
  const done: (() => void)[] = [];
  for (const owner of new Set(running.map((r) => r.owner))) {
    const seq = owner.routed!;
    for (let pos = seq.readOut; ; pos++) {
      const span = [...seq.spans.values()].find((s) => pos >= s.start && pos < s.start + s.exits.length);
      const depth = span?.exits[pos - span.start] ?? 0;
      if (!span || depth === 0) break;
      const sampler = pos === owner.tokens.length - 1;
      const logits = sampler ? new Float32Array(V) : undefined;
      rows.push({
        cache: owner.cache!,
        pos,
        loop: depth - 1,
        id: owner.tokens[pos]!,
        state: view(span.state, pos - span.start, d),
        readoutOnly: true,
        adapter: owner.adapter ?? 0,
        ...(logits && { logits }),
      });
      if (logits) done.push(() => (span.sample = { logits, depth }));
      seq.readOut = pos + 1;
    }
  }
  if (rows.length > 0) settings.fast.runDepthRows(rows, { kvMode: settings.kvMode });
  for (const f of done) f();
}

/** Rows whose positions were all read out exit; a sampling row then hands its sample to the engine. */
function report(running: readonly Running[]): { results: RowResult[]; samples: RowSample[] } {
  const results: RowResult[] = [];
  const samples: RowSample[] = [];
  for (const { plan, seq, span } of running) {
    const exited = seq.readOut >= plan.end;
    results.push({ requestId: plan.requestId, start: plan.start, end: plan.end, depth: plan.depth, exited });
    if (!exited) continue;
    seq.spans.delete(plan.start);
    if (!plan.samplesOnExit) continue;
    if (!span.sample) throw new Error(`serving: request ${plan.requestId} exited without a readout to sample from`);
    samples.push({ requestId: plan.requestId, ...span.sample });
  }
  return { results, samples };
}

const view = (a: Float32Array, i: number, d: number): Float32Array => a.subarray(i * d, (i + 1) * d);
