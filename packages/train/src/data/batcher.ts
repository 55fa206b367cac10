import type { BatchSource } from '../trainer/batchSource.js';
import { DataError, requireInt } from './errors.js';
import { requirePackable, windowAt, windowCount } from './pack.js';
import { Mulberry32 } from '@recur/tensor';
import { mixSeed, shuffledRange } from './rng.js';

export interface PackedBatcherOptions {
  readonly tokens: Int32Array;
  readonly seqLen: number;
  readonly batchSize: number;
  /** Seeds each epoch's window order (default 0). */
  readonly seed?: number;
  /** Visit windows in a fresh seeded order every epoch (default true); false keeps file order. */
  readonly shuffle?: boolean;
  /** Names the data in errors (e.g. the text file). */
  readonly source?: string;
}

/** Everything needed to resume; `windows`, `seqLen`, `batchSize` guard against restoring onto other data. */
export interface PackedBatcherState {
  readonly kind: 'packed-batcher';
  readonly seed: number;
  readonly shuffle: boolean;
  readonly epoch: number;
  /** Windows of this epoch already handed out. */
  readonly cursor: number;
  readonly windows: number;
  readonly seqLen: number;
  readonly batchSize: number;
}

/**
 * Batches of packed windows (see windowAt) in a seeded shuffled order per epoch. A batch that runs
 * past the end of an epoch continues into the next one, so every batch has exactly batchSize rows.
 * The order of epoch e depends only on (seed, e), so the state is two counters.
 */
export class PackedBatcher implements BatchSource {
  readonly windows: number;
  private opts: Required<PackedBatcherOptions>;
  private epoch = 0;
  private cursor = 0;
  private order: Uint32Array;

  constructor(options: PackedBatcherOptions) {
    const source = options.source ?? '<tokens>';
    requirePackable(options.tokens.length, options.seqLen, source);
    requireInt(source, 'batchSize', options.batchSize, 1);
    requireInt(source, 'seed', options.seed ?? 0, 0);
    this.opts = { seed: 0, shuffle: true, source, ...options };
    this.windows = windowCount(options.tokens.length, options.seqLen);
    this.order = this.orderOf(0);
  }

  /** Epochs completed so far plus the fraction of the current one. */
  get epochProgress(): number {
    return this.epoch + this.cursor / this.windows;
  }

  next(): Int32Array[] {
    const batch: Int32Array[] = [];
    while (batch.length < this.opts.batchSize) {
      if (this.cursor === this.windows) this.startEpoch(this.epoch + 1);
      batch.push(windowAt(this.opts.tokens, this.opts.seqLen, this.order[this.cursor++]!));
    }
    return batch;
  }

  state(): PackedBatcherState {
    const { seed, shuffle, seqLen, batchSize } = this.opts;
    return {
      kind: 'packed-batcher',
      seed,
      shuffle,
      epoch: this.epoch,
      cursor: this.cursor,
      windows: this.windows,
      seqLen,
      batchSize,
    };
  }

  restore(state: unknown): void {
    const s = this.checkState(state);
    this.opts = { ...this.opts, seed: s.seed, shuffle: s.shuffle };
    this.startEpoch(s.epoch);
    this.cursor = s.cursor;
  }

  private startEpoch(epoch: number): void {
    this.epoch = epoch;
    this.cursor = 0;
    this.order = this.orderOf(epoch);
  }

  private orderOf(epoch: number): Uint32Array {
    if (!this.opts.shuffle) return Uint32Array.from({ length: this.windows }, (_, i) => i);
    return shuffledRange(this.windows, new Mulberry32(mixSeed(this.opts.seed, epoch)));
  }

  private checkState(state: unknown): PackedBatcherState {
    const fail = (what: string): never => {
      throw new DataError('bad-state', this.opts.source, `cannot restore the batcher: ${what}`);
    };
    if (typeof state !== 'object' || state === null || (state as { kind?: unknown }).kind !== 'packed-batcher') {
      return fail('not a packed-batcher state');
    }
    const s = state as Record<string, unknown>;
    for (const key of ['seed', 'epoch', 'cursor', 'windows', 'seqLen', 'batchSize'] as const) {
      if (!Number.isInteger(s[key]) || (s[key] as number) < 0) fail(`"${key}" must be a non-negative integer`);
    }
    for (const key of ['windows', 'seqLen', 'batchSize'] as const) {
      const mine = key === 'windows' ? this.windows : this.opts[key];
      if (s[key] !== mine) fail(`it was saved with ${key} ${String(s[key])}, this batcher has ${mine}`);
    }
    if ((s.cursor as number) > this.windows) fail(`cursor ${String(s.cursor)} is past ${this.windows} windows`);
    return { ...(s as unknown as PackedBatcherState), shuffle: s.shuffle !== false };
  }
}
