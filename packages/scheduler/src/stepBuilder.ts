import type { SchedulerConfig } from './config.js';
import { type RequestState, type Segment, kvWrites } from './requestState.js';
import type { RowPlan } from './types.js';

/** A row placed in the step under construction, with what it points at and what it costs. */
export interface PlacedRow {
  readonly row: RowPlan;
  readonly state: RequestState;
  readonly segment: Segment;
  readonly kv: number;
}

/** The step being planned: its rows and the two per-step limits (row count, token budget). */
export class StepBuilder {
  readonly placed: PlacedRow[] = [];
  tokens = 0;

  constructor(private readonly config: SchedulerConfig) {}

  get rowsLeft(): number {
    return this.config.maxRowsPerStep - this.placed.length;
  }

  get tokensLeft(): number {
    return this.config.tokenBudgetPerStep - this.tokens;
  }

  /** Whether one more row of `length` positions fits the row limit and the token budget. */
  fits(length: number): boolean {
    return this.rowsLeft > 0 && length <= this.tokensLeft;
  }

  has(segment: Segment): boolean {
    return this.placed.some((p) => p.segment === segment);
  }

  /** KV entries the segment would write at its next depth. */
  writesOf(segment: Segment): number {
    return kvWrites(this.config.kvMode, segment.depth, segment.end - segment.start);
  }

  place(state: RequestState, segment: Segment): PlacedRow {
    const { request } = state;
    const row: RowPlan = {
      requestId: request.id,
      start: segment.start,
      end: segment.end,
      depth: segment.depth,
      adapter: (request.adapter ?? 0) * this.config.maxDepth + segment.depth,
      kind: segment.kind,
      samplesOnExit: segment.samplesOnExit,
    };
    const placed: PlacedRow = { row, state, segment, kv: this.writesOf(segment) };
    this.placed.push(placed);
    this.tokens += segment.end - segment.start;
    return placed;
  }

  /** Drops a preempted request's rows; returns the KV entries they had reserved. */
  removeRequest(state: RequestState): number {
    let kv = 0;
    for (let i = this.placed.length - 1; i >= 0; i--) {
      const p = this.placed[i];
      if (p?.state !== state) continue;
      this.placed.splice(i, 1);
      this.tokens -= p.row.end - p.row.start;
      kv += p.kv;
    }
    return kv;
  }
}
