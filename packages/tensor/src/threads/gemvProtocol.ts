/**
 * The shared control block of the GEMV thread pool: an Int32Array over a SharedArrayBuffer that the
 * main thread and every worker read with Atomics. Work is handed out in row chunks through one claim
 * counter, so a worker the OS has descheduled (this machine has 2 cores, often shared) simply
 * claims fewer chunks instead of holding the main thread up.
 *
 * A claim word is `job << 16 | ticket`; params carry their job number (`SEQ`, -1 while being
 * rewritten), so a late worker whose claim belongs to a finished job sees a mismatch and goes back
 * to sleep, and one whose claim lands in a new job runs that job's chunk with that job's params.
 */
export const Slot = {
  /** Bumped (and notified) once per job; idle workers wait on it. */
  Gen: 0,
  /** `job << 16 | next ticket`: Atomics.add hands out chunk numbers. */
  Claim: 1,
  /** Chunks finished in the current job; the main thread waits on it. */
  Done: 2,
  /** Job number the params below belong to; -1 while the main thread writes them. */
  Seq: 3,
  W: 4,
  X: 5,
  Y: 6,
  Rows: 7,
  K: 8,
  ChunkRows: 9,
  Chunks: 10,
  /** Non-zero: workers exit. */
  Stop: 11,
  /** Non-zero: a worker's kernel threw; the main thread reports it instead of waiting forever. */
  Failed: 12,
} as const;

export const CONTROL_INTS = 16;

/** At most this many chunks per job: tickets must stay below 2^16 with room for late claims. */
export const MAX_CHUNKS = 8192;

export type GemvRows = (w: number, x: number, y: number, rowStart: number, rowEnd: number, k: number) => void;

/**
 * Claims and runs chunks until the job is exhausted; returns how many this caller ran. The workers
 * run the same loop from source text (gemvWorkerSource.ts): keep the two in step.
 */
export function runClaims(ctrl: Int32Array, gemvRows: GemvRows): number {
  let ran = 0;
  for (;;) {
    const claim = Atomics.add(ctrl, Slot.Claim, 1);
    const job = claim >>> 16;
    const ticket = claim & 0xffff;
    if (Atomics.load(ctrl, Slot.Seq) !== job) return ran;
    const [w, x, y, rows, k, chunkRows, chunks] = [Slot.W, Slot.X, Slot.Y, Slot.Rows, Slot.K, Slot.ChunkRows, Slot.Chunks].map((i) => Atomics.load(ctrl, i)) as [number, number, number, number, number, number, number];
    if (Atomics.load(ctrl, Slot.Seq) !== job || ticket >= chunks) return ran; // params changed under us: a stale claim
    const start = ticket * chunkRows;
    gemvRows(w, x, y, start, Math.min(rows, start + chunkRows), k);
    ran++;
    if (Atomics.add(ctrl, Slot.Done, 1) + 1 === chunks) Atomics.notify(ctrl, Slot.Done);
  }
}
