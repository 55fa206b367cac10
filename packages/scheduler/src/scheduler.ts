import { type SchedulerConfig, resolveSchedulerConfig } from './config.js';
import { SchedulerError } from './errors.js';
import { compareRank } from './rank.js';
import {
  type RequestState,
  type Segment,
  isRunnable,
  newRequestState,
  resetToWaiting,
  worstCaseKv,
} from './requestState.js';
import { matchResult } from './results.js';
import { type PlacedRow, StepBuilder } from './stepBuilder.js';
import { validateRequest } from './validate.js';
import type {
  CompletionReport,
  FinishReason,
  FinishedRequest,
  Request,
  SchedulerStats,
  StepPlan,
  StepResult,
} from './types.js';

/** Per-step scratch shared by the phases of `schedule()`. */
interface StepContext {
  readonly builder: StepBuilder;
  readonly preempted: string[];
  readonly admitted: string[];
}

/**
 * Continuous depth-wise batching as data in, data out: `submit`/`cancel` requests, `schedule()` a step,
 * run it (the engine's job), `complete(result)` with what happened, repeat. One plan at a time.
 */
export class Scheduler {
  readonly config: SchedulerConfig;
  /** Waiting and running requests; Map order is submission order (determinism). */
  private readonly states = new Map<string, RequestState>();
  private outstanding: readonly PlacedRow[] | undefined;
  private kvUsed = 0;
  private nextSeq = 0;
  private steps = 0;
  private finishedCount = 0;
  private cancelledCount = 0;
  private preemptions = 0;
  private readonly rowsByDepth: number[];
  private readonly tokensByDepth: number[];

  constructor(options: Partial<SchedulerConfig> = {}) {
    this.config = resolveSchedulerConfig(options);
    this.rowsByDepth = new Array<number>(this.config.maxDepth).fill(0);
    this.tokensByDepth = new Array<number>(this.config.maxDepth).fill(0);
  }

  /** Queues a request. Throws when its id is already held or it could never fit the KV budget. */
  submit(request: Request): void {
    validateRequest(request);
    if (this.states.has(request.id)) {
      throw new SchedulerError('duplicate-request', `request ${request.id} is already queued or running`);
    }
    const worst = worstCaseKv(request, this.config);
    if (worst > this.config.kvBudget) {
      throw new SchedulerError(
        'too-large',
        `request ${request.id} may need ${worst} KV entries, more than kvBudget ${this.config.kvBudget}`,
      );
    }
    this.states.set(request.id, newRequestState({ ...request }, this.nextSeq++));
  }

  /**
   * Drops a request wherever it is and frees its KV; false when it is not
   * held. Rows of it in an outstanding plan are ignored by `complete`.
   */
  cancel(id: string): boolean {
    const state = this.states.get(id);
    if (!state) return false;
    this.kvUsed -= state.kv;
    this.states.delete(id);
    this.cancelledCount++;
    return true;
  }

  /** Whether any request is waiting or running. */
  get busy(): boolean {
    return this.states.size > 0;
  }

  /** KV entries a request holds (0 when waiting or unknown). */
  kvOf(id: string): number {
    return this.states.get(id)?.kv ?? 0;
  }

  schedule(): StepPlan {
    // THE CORE RULE. A step is filled in this order; a candidate row is taken only if it fits the row
    // limit and the token budget (else it is skipped and the next one is tried) and the KV budget (6).
    // 1. Rows in flight continue (spans that ran a depth and did not exit), deepest first, then by rank,
    //    then by position: they already hold KV, the deepest are nearest to exiting (a token that exits
    //    frees its slot and lets its request's next token start), and a chunk one depth ahead is what
    //    unblocks the chunk behind it.
    // 2. Depth 0 is refilled by running requests, in rank order: first each one's next decode token (made
    //    by the sample reported in the last step, so a slot freed by an exit is refilled in the very next
    //    plan), then
    // 3. each one's next prefill chunk: min(prefillChunk, positions left to prefill, tokens left in the step).
    // 4. Waiting requests are admitted in rank order ('fcfs': arrival; 'priority': priority, then arrival)
    //    while fewer than maxRunning run — under 'static' batching only if none ran when this step began —
    //    each with its first chunk; the first that does not fit ends admission (nobody overtakes).
    // 5. Dependency rule: a span at depth d runs only when every earlier position of its request has run
    //    depth d or exited before d. A decode token exists only once the previous one was sampled, so a
    //    request has at most one decode row in flight.
    // 6. KV: a row's writes (its length at any depth for 'per-depth', at depth 0 only for 'shared-first')
    //    are reserved when it is planned. If they would pass kvBudget, running requests ranked strictly
    //    below the row's request are preempted, worst first, until they fit (recompute-style: KV and rows
    //    dropped, back to waiting at the original rank, re-prefill prompt + generated); if none is left the
    //    row waits. Preempting only for a better rank means the best request always progresses.
    if (this.outstanding)
      throw new SchedulerError('plan-outstanding', 'schedule() called before complete() of the last plan');
    const ctx: StepContext = { builder: new StepBuilder(this.config), preempted: [], admitted: [] };
    const staticGateOpen = this.running().length === 0;
    this.continueInFlight(ctx);
    for (const state of this.running()) this.placeDecode(ctx, state);
    for (const state of this.running()) this.placeNextChunk(ctx, state);
    if (this.config.batching === 'continuous' || staticGateOpen) this.admit(ctx);
    return this.finishPlan(ctx);
  }

  /** Applies what the engine did with the outstanding plan. */
  complete(result: StepResult): CompletionReport {
    if (!this.outstanding)
      throw new SchedulerError('no-plan', 'complete() called without an outstanding plan with rows');
    const isLive = (state: RequestState): boolean => this.states.get(state.request.id) === state;
    const matched = matchResult(this.outstanding, result, isLive, this.config.maxDepth);
    this.outstanding = undefined;
    for (const { placed, exited } of matched.rows) this.advance(placed, exited);
    const finished: FinishedRequest[] = [];
    for (const { state, finished: stop } of matched.samples) {
      state.generated++;
      const reason: FinishReason | undefined = stop
        ? 'stop'
        : state.generated >= state.request.maxNewTokens
          ? 'length'
          : undefined;
      if (reason) finished.push(this.finish(state, reason));
      else this.addDecodeToken(state);
    }
    return { finished };
  }

  stats(): SchedulerStats {
    const running = this.running();
    return {
      steps: this.steps,
      waiting: this.states.size - running.length,
      running: running.length,
      rowsInFlight: running.reduce((n, s) => n + s.segments.filter((g) => g.depth > 0).length, 0),
      kvUsed: this.kvUsed,
      kvBudget: this.config.kvBudget,
      rowsByDepth: [...this.rowsByDepth],
      tokensByDepth: [...this.tokensByDepth],
      finished: this.finishedCount,
      cancelled: this.cancelledCount,
      preemptions: this.preemptions,
    };
  }

  private byRank(states: RequestState[]): RequestState[] {
    return states.sort((a, b) => compareRank(this.config.policy, a, b));
  }

  private running(): RequestState[] {
    return this.byRank([...this.states.values()].filter((s) => s.phase === 'running'));
  }

  private continueInFlight(ctx: StepContext): void {
    const candidates = this.running().flatMap((state, rank) =>
      state.segments.filter((segment) => segment.depth > 0).map((segment) => ({ state, segment, rank })),
    );
    candidates.sort(
      (a, b) => b.segment.depth - a.segment.depth || a.rank - b.rank || a.segment.start - b.segment.start,
    );
    for (const { state, segment } of candidates) this.tryPlace(ctx, state, segment);
  }

  private placeDecode(ctx: StepContext, state: RequestState): void {
    const token = state.segments.find((s) => s.kind === 'decode' && s.depth === 0);
    if (token) this.tryPlace(ctx, state, token);
  }

  /** Issues the request's next prefill chunk if it can run now; true when placed. */
  private placeNextChunk(ctx: StepContext, state: RequestState): boolean {
    const { builder } = ctx;
    const length = Math.min(this.config.prefillChunk, state.prefillTarget - state.issued, builder.tokensLeft);
    if (state.phase !== 'running' || length < 1) return false;
    const chunk: Segment = {
      start: state.issued,
      end: state.issued + length,
      depth: 0,
      kind: 'prefill',
      samplesOnExit: state.issued + length === state.prefillTarget,
    };
    if (!this.tryPlace(ctx, state, chunk)) return false;
    state.segments.push(chunk); // starts after every live segment, so the list stays sorted
    state.issued = chunk.end;
    return true;
  }

  private admit(ctx: StepContext): void {
    const waiting = this.byRank([...this.states.values()].filter((s) => s.phase === 'waiting'));
    let running = this.running().length;
    for (const state of waiting) {
      if (running >= this.config.maxRunning) return;
      if (ctx.preempted.includes(state.request.id)) continue; // not re-admitted in the step that preempted it
      state.phase = 'running';
      state.prefillTarget = state.request.promptLength + state.generated;
      if (!this.placeNextChunk(ctx, state)) {
        resetToWaiting(state);
        return;
      }
      ctx.admitted.push(state.request.id);
      running++;
    }
  }

  /** Places one row if limits, the dependency rule and the KV budget (after allowed preemptions) let it. */
  private tryPlace(ctx: StepContext, state: RequestState, segment: Segment): boolean {
    const { builder } = ctx;
    if (state.phase !== 'running' || !builder.fits(segment.end - segment.start)) return false;
    if (!isRunnable(state, segment) || builder.has(segment)) return false;
    const writes = builder.writesOf(segment);
    while (this.kvUsed + writes > this.config.kvBudget) {
      const victim = this.worstRunningBelow(state);
      if (!victim) return false;
      this.preempt(ctx, victim);
    }
    builder.place(state, segment);
    this.kvUsed += writes;
    state.kv += writes;
    return true;
  }

  private worstRunningBelow(state: RequestState): RequestState | undefined {
    const below = this.running().filter((other) => compareRank(this.config.policy, state, other) < 0);
    return below[below.length - 1];
  }

  private preempt(ctx: StepContext, victim: RequestState): void {
    ctx.builder.removeRequest(victim); // its reserved writes are part of victim.kv
    this.kvUsed -= victim.kv;
    resetToWaiting(victim);
    ctx.preempted.push(victim.request.id);
    this.preemptions++;
  }

  private finishPlan(ctx: StepContext): StepPlan {
    const { builder } = ctx;
    this.outstanding = builder.placed.length > 0 ? [...builder.placed] : undefined;
    return {
      step: this.steps++,
      rows: builder.placed.map((p) => p.row),
      preempted: ctx.preempted,
      admitted: ctx.admitted,
      tokens: builder.tokens,
      kvUsed: this.kvUsed,
    };
  }

  private advance({ row, state, segment }: PlacedRow, exited: boolean): void {
    this.rowsByDepth[row.depth] = (this.rowsByDepth[row.depth] ?? 0) + 1;
    this.tokensByDepth[row.depth] = (this.tokensByDepth[row.depth] ?? 0) + row.end - row.start;
    if (exited) state.segments = state.segments.filter((s) => s !== segment);
    else segment.depth++;
  }

  /** The sampled token is the next position; it runs from depth 0 as a decode row. */
  private addDecodeToken(state: RequestState): void {
    state.segments.push({ start: state.issued, end: state.issued + 1, depth: 0, kind: 'decode', samplesOnExit: true });
    state.issued++;
  }

  private finish(state: RequestState, reason: FinishReason): FinishedRequest {
    this.kvUsed -= state.kv;
    this.states.delete(state.request.id);
    this.finishedCount++;
    return { requestId: state.request.id, generated: state.generated, reason };
  }
}
