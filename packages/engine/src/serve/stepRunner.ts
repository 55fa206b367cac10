import type { DepthRouting, FastDecoder, FastDepthKvMode, FastDepthRow, FastKvCache } from '@recur/graph';
import { shouldExit, type ExitPolicy } from '@recur/router';
import type { RowPlan, RowResult } from '@recur/scheduler';
import type { ContinueAfter } from './options.js';

/** A span in flight (ran some loops, not exited): its positions' states and which of them have left. */
interface SpanState {
  /** [span·d] hidden states after the last loop each position ran. */
  readonly state: Float32Array;
  /** done[i]: position start + i has exited (its KV carried forward; it runs no deeper loop). */
  readonly done: Uint8Array;
  /** The sampling position's readout and depth, once it exited. */
  logits?: Float32Array;
  depth?: number;
  /** A re-prefill's sampling position: its state after each loop, kept until its exit probes can run. */
  readonly snapshots: Float32Array[];
  /** The next loop whose deferred exit probe has not run. */
  nextProbe: number;
}

/** What the step runner needs of one request: its tokens, the depths they ran at, and its KV. */
export interface RowOwner {
  /** Prompt then generated ids (position p holds tokens[p]). */
  readonly tokens: readonly number[];
  readonly promptLength: number;
  /** depths[i]: loops run by the position that produced generated token i (position promptLength − 1 + i). */
  readonly depths: readonly number[];
  cache: FastKvCache | undefined;
  /** Spans in flight, by start position. */
  readonly spans: Map<number, SpanState>;
  /** The request's adapter set on the fast decoder (0 or absent: the model's own). */
  readonly adapter?: number;
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
  /** A router model's routing: its steps run runRoutedStep instead. */
  readonly routing?: DepthRouting;
}

/** An exited sampling row's readout. */
export interface RowSample {
  readonly requestId: string;
  readonly logits: Float32Array;
  readonly depth: number;
}

interface Position {
  readonly span: SpanState;
  readonly i: number;
  readonly pos: number;
  /** Decided before the step: this loop is its last (full depth, or the depth it ran before a preemption). */
  readonly exitsNow: boolean;
  readonly probe: boolean;
  readonly logits: Float32Array | undefined;
  /**
   * The last token of a re-prefill (after a preemption): its exit probes read the epilogue keys of
   * every earlier position, so they wait until those positions have exited, then run in loop order.
   */
  readonly deferred: boolean;
}

/**
 * Runs one plan's rows as ONE batched depth step and decides exits. Prompt positions exit at the
 * last loop. The sampling position (a decode token, or the last token of a re-prefill) reads out
 * after loop r < N − 1 when the exit rule needs its logits (maxProb / entropy / a router hook;
 * 'fixed' reads out only at its depth) and leaves when the rule says so — that readout is its output,
 * and under 'copy' its KV is carried into the deeper loops. Generated positions replayed after a
 * preemption exit at the depth they ran before, so a preempted request's tokens do not change.
 */
export function runStep(
  settings: StepSettings,
  rows: readonly RowPlan[],
  owners: ReadonlyMap<string, RowOwner>,
): { results: RowResult[]; samples: RowSample[] } {
  const { fast } = settings;
  const d = fast.config.hiddenSize;
  const depthRows: FastDepthRow[] = [];
  const planned = rows.map((plan) => {
    const owner = owners.get(plan.requestId);
    if (!owner) throw new Error(`serving: plan row for unknown request ${plan.requestId}`);
    owner.cache ??= fast.newCache(plan.end, settings.flat ? undefined : settings.kvMode);
    const n = plan.end - plan.start;
    let span = owner.spans.get(plan.start);
    if (!span || plan.depth === 0 || span.done.length !== n) {
      span = { state: new Float32Array(n * d), done: new Uint8Array(n), snapshots: [], nextProbe: 0 };
      owner.spans.set(plan.start, span);
    }
    const positions: Position[] = [];
    for (let p = plan.start; p < plan.end; p++) {
      const i = p - plan.start;
      if (span.done[i]) continue;
      const position = positionPlan(settings, owner, plan, span, p);
      positions.push(position);
      depthRows.push({
        cache: owner.cache,
        pos: p,
        loop: plan.depth,
        id: owner.tokens[p]!,
        state: span.state.subarray(i * d, (i + 1) * d),
        readout: position.exitsNow || position.probe,
        adapter: owner.adapter ?? 0,
        ...(position.logits && { logits: position.logits }),
      });
    }
    return { plan, owner, span, positions };
  });
  fast.runDepthRows(depthRows, { kvMode: settings.kvMode, flat: settings.flat });
  for (const { plan, owner, span, positions } of planned) {
    for (const { i, pos, exitsNow, probe, logits, deferred } of positions) {
      if (deferred) {
        span.snapshots[plan.depth] = span.state.slice(i * d, (i + 1) * d);
        continue;
      }
      if (!exitsNow && !(probe && leaves(settings, plan.depth, logits!, span.state.subarray(i * d, (i + 1) * d))))
        continue;
      finish(settings, owner, span, i, pos, plan.depth, logits);
    }
  }
  for (const { plan, owner, span, positions } of planned) {
    const last = positions.find((x) => x.deferred);
    if (last && settled(owner, plan.start, span, last.i)) runDeferred(settings, owner, span, last, plan.depth);
  }
  const results: RowResult[] = [];
  const samples: RowSample[] = [];
  for (const { plan, owner, span } of planned) {
    const exited = span.done.every((x) => x === 1);
    results.push({ requestId: plan.requestId, start: plan.start, end: plan.end, depth: plan.depth, exited });
    if (!exited) continue;
    owner.spans.delete(plan.start);
    if (plan.samplesOnExit) {
      if (!span.logits) throw new Error(`serving: request ${plan.requestId} exited without a readout to sample from`);
      samples.push({ requestId: plan.requestId, logits: span.logits, depth: span.depth! });
    }
  }
  return { results, samples };
}

/** Position i of `span` exits after loop r: KV carried forward under 'copy', readout kept when it samples. */
function finish(
  settings: StepSettings,
  owner: RowOwner,
  span: SpanState,
  i: number,
  pos: number,
  r: number,
  logits: Float32Array | undefined,
): void {
  span.done[i] = 1;
  if (r < settings.loops - 1) settings.fast.exitPosition(owner.cache!, pos, r + 1, settings.kvMode);
  if (logits) [span.logits, span.depth] = [logits, settings.depthOf(r)];
}

/** Every position of the request before position i of `span` has exited (this step's exits included). */
function settled(owner: RowOwner, start: number, span: SpanState, i: number): boolean {
  for (let j = 0; j < i; j++) if (!span.done[j]) return false;
  for (const [at, other] of owner.spans) if (at < start && !other.done.every((x) => x === 1)) return false;
  return true;
}

/** The deferred exit probes of a re-prefill's last token, loop by loop up to r, until one exits (the last loop always does). */
function runDeferred(settings: StepSettings, owner: RowOwner, span: SpanState, position: Position, r: number): void {
  const V = settings.fast.config.vocabSize;
  for (let k = span.nextProbe; k <= r; k++) {
    const final = k === settings.loops - 1;
    if (!final && !needsReadout(settings, k)) continue;
    const state = span.snapshots[k]!;
    const logits = new Float32Array(V);
    settings.fast.runDepthRows(
      [
        {
          cache: owner.cache!,
          pos: position.pos,
          loop: k,
          id: owner.tokens[position.pos]!,
          state,
          readoutOnly: true,
          adapter: owner.adapter ?? 0,
          logits,
        },
      ],
      { kvMode: settings.kvMode, flat: settings.flat },
    );
    if (final || leaves(settings, k, logits, state)) {
      finish(settings, owner, span, position.i, position.pos, k, logits);
      return;
    }
  }
  span.nextProbe = r + 1;
}

/** How position p of a row runs this step: its fixed exit depth (prompt: N; replayed: as before) or the exit rule. */
function positionPlan(settings: StepSettings, owner: RowOwner, plan: RowPlan, span: SpanState, p: number): Position {
  const r = plan.depth;
  const fixed = settings.flat || p < owner.promptLength ? settings.loops : owner.depths[p - owner.promptLength + 1];
  const exitsNow = r === settings.loops - 1 || (fixed !== undefined && r === fixed - 1);
  const sampler = plan.samplesOnExit && p === plan.end - 1;
  const deferred = sampler && fixed === undefined && plan.kind === 'prefill';
  const probe = !deferred && !exitsNow && fixed === undefined && needsReadout(settings, r);
  const logits =
    probe || (sampler && exitsNow && !deferred) ? new Float32Array(settings.fast.config.vocabSize) : undefined;
  return { span, i: p - plan.start, pos: p, exitsNow: exitsNow && !deferred, probe, logits, deferred };
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
