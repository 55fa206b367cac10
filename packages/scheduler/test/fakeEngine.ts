import type {
  CompletionReport,
  FinishedRequest,
  Request,
  RowPlan,
  RowResult,
  SampledToken,
  Scheduler,
  StepPlan,
} from '../src/index.js';
import { compareRank } from '../src/rank.js';

/** How the fake engine decides what happens to a row: no model, just rules. */
export interface EngineRules {
  /** Depth at which a row exits (clamped to N−1). Default: every row runs all N depths. */
  readonly exitDepth?: (row: RowPlan) => number;
  /** The 1-based index of the sample that is EOS for a request, if any. */
  readonly eosAt?: (requestId: string) => number | undefined;
}

/** What the engine knows per request, kept independently of the scheduler to check it. */
interface Shadow {
  readonly request: Request;
  /** Submission order, the scheduler's last tie-break. */
  readonly seq: number;
  /** ran[p]: depths position p has completed. */
  ran: number[];
  exited: boolean[];
  kv: number;
  /** Decode positions started and not exited. */
  openDecodes: Set<number>;
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`invariant broken: ${message}`);
}

/**
 * Drives a Scheduler with hand-built step results and asserts every invariant on every plan:
 * limits, the dependency rule, ≤1 decode row per request in flight, KV equal to an independent count
 * and within budget, nothing of a cancelled or finished request, sampling rows at the right position.
 */
export class FakeEngine {
  readonly plans: StepPlan[] = [];
  readonly finished = new Map<string, FinishedRequest>();
  /** Samples reported per request (kept across preemption, as the scheduler must). */
  readonly samples = new Map<string, number>();
  readonly gone = new Set<string>();
  private readonly shadows = new Map<string, Shadow>();
  private submitted = 0;
  /** Positions covered by the plan being checked. */
  private planPositions = new Set<string>();

  constructor(
    readonly scheduler: Scheduler,
    readonly rules: EngineRules = {},
  ) {}

  submit(request: Request): void {
    this.scheduler.submit(request);
    this.shadows.set(request.id, newShadow(request, this.submitted++));
    this.samples.set(request.id, this.samples.get(request.id) ?? 0);
  }

  cancel(id: string): boolean {
    this.shadows.delete(id);
    this.gone.add(id);
    return this.scheduler.cancel(id);
  }

  /** schedule() and check the plan against the shadow state. */
  plan(): StepPlan {
    const plan = this.scheduler.schedule();
    this.plans.push(plan);
    for (const id of plan.preempted) {
      const shadow = this.shadows.get(id);
      check(shadow !== undefined, `preempted unknown request ${id}`);
      this.shadows.set(id, newShadow(shadow.request, shadow.seq));
    }
    this.checkPlan(plan);
    this.checkPreemptions(plan);
    return plan;
  }

  /** Builds the result of `plan` by the rules, updates the shadow and completes it. */
  run(plan: StepPlan): CompletionReport {
    const rows: RowResult[] = [];
    const sampled: SampledToken[] = [];
    for (const row of plan.rows) {
      const shadow = this.shadows.get(row.requestId);
      if (!shadow) continue; // cancelled after planning: the engine may skip it
      const exited = row.depth >= Math.min(this.scheduler.config.maxDepth - 1, this.rules.exitDepth?.(row) ?? Infinity);
      rows.push({ requestId: row.requestId, start: row.start, end: row.end, depth: row.depth, exited });
      for (let p = row.start; p < row.end; p++) {
        shadow.ran[p] = row.depth + 1;
        shadow.exited[p] = exited;
      }
      if (exited) shadow.openDecodes.delete(row.start);
      if (exited && row.samplesOnExit) {
        const k = (this.samples.get(row.requestId) ?? 0) + 1;
        this.samples.set(row.requestId, k);
        sampled.push({ requestId: row.requestId, finished: this.rules.eosAt?.(row.requestId) === k });
      }
    }
    const report = this.scheduler.complete({ rows, sampled });
    for (const done of report.finished) this.recordFinish(done);
    check(sumKv(this.shadows) === this.scheduler.stats().kvUsed, 'kvUsed after complete equals the shadow count');
    return report;
  }

  step(): StepPlan {
    const plan = this.plan();
    if (plan.rows.length > 0) this.run(plan);
    return plan;
  }

  /** Steps until nothing waits or runs; returns the steps taken. */
  drain(maxSteps = 10_000): number {
    let steps = 0;
    while (this.scheduler.busy) {
      check(steps++ < maxSteps, `not drained after ${maxSteps} steps`);
      const plan = this.step();
      check(plan.rows.length > 0, 'a busy scheduler planned an empty step (no progress possible)');
    }
    return steps;
  }

  private recordFinish(done: FinishedRequest): void {
    const shadow = this.shadows.get(done.requestId);
    check(shadow !== undefined && !this.finished.has(done.requestId), `${done.requestId} finishes exactly once`);
    check(done.generated === this.samples.get(done.requestId), `${done.requestId} generated count matches samples`);
    const eos = this.rules.eosAt?.(done.requestId);
    const expected = eos !== undefined && eos <= shadow.request.maxNewTokens ? eos : shadow.request.maxNewTokens;
    check(
      done.generated === expected,
      `${done.requestId} finished after ${done.generated} tokens, expected ${expected}`,
    );
    this.finished.set(done.requestId, done);
    this.shadows.delete(done.requestId);
  }

  private checkPlan(plan: StepPlan): void {
    const config = this.scheduler.config;
    check(plan.rows.length <= config.maxRowsPerStep, `step ${plan.step}: ${plan.rows.length} rows > limit`);
    const tokens = plan.rows.reduce((n, r) => n + r.end - r.start, 0);
    check(tokens === plan.tokens && tokens <= config.tokenBudgetPerStep, `step ${plan.step}: token budget`);
    const decodes = new Set<string>();
    this.planPositions = new Set();
    for (const row of plan.rows) {
      this.checkRow(row);
      if (row.kind === 'decode') {
        check(!decodes.has(row.requestId), `step ${plan.step}: two decode rows of ${row.requestId}`);
        decodes.add(row.requestId);
      }
    }
    const kv = sumKv(this.shadows);
    check(kv === plan.kvUsed && kv <= config.kvBudget, `step ${plan.step}: kv ${plan.kvUsed} vs shadow ${kv}`);
    for (const [id, shadow] of this.shadows) check(shadow.kv === this.scheduler.kvOf(id), `kv of ${id}`);
  }

  /** A victim must rank strictly below some request that runs in this plan (never for a lower rank). */
  private checkPreemptions(plan: StepPlan): void {
    const policy = this.scheduler.config.policy;
    const runners = plan.rows.flatMap((r) => this.shadows.get(r.requestId) ?? []);
    for (const id of plan.preempted) {
      const victim = this.shadows.get(id);
      check(
        victim !== undefined && !plan.rows.some((r) => r.requestId === id),
        `preempted ${id} has no row in the plan`,
      );
      check(
        runners.some((r) => compareRank(policy, r, victim) < 0),
        `${id} preempted only for a better-ranked request`,
      );
    }
  }

  private checkRow(row: RowPlan): void {
    const { maxDepth, kvMode } = this.scheduler.config;
    const shadow = this.shadows.get(row.requestId);
    check(
      shadow !== undefined && !this.gone.has(row.requestId),
      `row of a cancelled or finished request ${row.requestId}`,
    );
    check(row.depth >= 0 && row.depth < maxDepth && row.end > row.start, `row shape ${JSON.stringify(row)}`);
    check(row.adapter === (shadow.request.adapter ?? 0) * maxDepth + row.depth, 'adapter slot');
    for (let p = 0; p < row.start; p++) {
      check(
        shadow.exited[p] === true || (shadow.ran[p] ?? 0) > row.depth,
        `dependency rule: ${row.requestId}@${p} before ${JSON.stringify(row)}`,
      );
    }
    for (let p = row.start; p < row.end; p++) {
      check(
        !shadow.exited[p] && (shadow.ran[p] ?? 0) === row.depth,
        `span ${row.requestId}@${p} runs depth ${row.depth} in order`,
      );
      const key = `${row.requestId}@${p}`;
      check(!this.planPositions.has(key), `position ${key} twice in one plan`);
      this.planPositions.add(key);
    }
    this.checkSamplingPosition(row, shadow);
    if (row.kind === 'decode') {
      check(row.end - row.start === 1, 'decode rows are one position');
      if (row.depth === 0) shadow.openDecodes.add(row.start);
      check(shadow.openDecodes.size <= 1, `≤1 decode row in flight for ${row.requestId}`);
    }
    shadow.kv += kvMode === 'per-depth' || row.depth === 0 ? row.end - row.start : 0;
  }

  /** A prefill's sampling chunk ends at prompt + generated; a decode row sits at the last sampled token. */
  private checkSamplingPosition(row: RowPlan, shadow: Shadow): void {
    const known = shadow.request.promptLength + (this.samples.get(row.requestId) ?? 0);
    if (row.kind === 'prefill')
      check(row.end <= known && row.samplesOnExit === (row.end === known), 'prefill span within known tokens');
    else check(row.start === known - 1 && row.samplesOnExit, 'decode row at the last sampled token');
  }
}

function newShadow(request: Request, seq: number): Shadow {
  return { request, seq, ran: [], exited: [], kv: 0, openDecodes: new Set() };
}

function sumKv(shadows: ReadonlyMap<string, Shadow>): number {
  let kv = 0;
  for (const s of shadows.values()) kv += s.kv;
  return kv;
}

/** Seeded PRNG (mulberry32): same seed, same sequence. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A request with defaults, for terse tests. */
export function req(id: string, promptLength: number, maxNewTokens: number, extra: Partial<Request> = {}): Request {
  return { id, promptLength, maxNewTokens, arrival: 0, ...extra };
}

/** A plan's rows as short strings, `id[start,end)dD`, for exact expectations. */
export function brief(plan: StepPlan): string[] {
  return plan.rows.map((r) => `${r.requestId}[${r.start},${r.end})d${r.depth}`);
}
