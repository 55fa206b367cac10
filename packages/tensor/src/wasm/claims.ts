/**
 * The job protocol of WorkerPool: an Int32Array control block over a SharedArrayBuffer that the
 * calling thread and every worker read with Atomics. A job is up to MAX_SEGMENTS segments (one kernel
 * over `items` work items each, handed out `chunk` items at a time); every thread claims chunk
 * tickets through one counter, so a thread the OS has descheduled (2 shared cores here) simply
 * claims fewer instead of holding the job up.
 *
 * A claim word is `job << 16 | ticket`; the segment table carries its job number in `Seq` (−1 while
 * rewritten), so a late worker whose claim belongs to a finished job sees a mismatch and goes back to
 * waiting, and one whose claim lands in a newer job runs that job's chunk with that job's table. The
 * caller starts a job only after the previous one's chunks are all done, so no chunk ever runs
 * against the wrong table or parameter block.
 */
export const Ctl = {
  /** Bumped (and notified) once per job; idle workers wait on it. */
  Gen: 0,
  /** `job << 16 | next ticket`: Atomics.add hands out chunk numbers. */
  Claim: 1,
  /** Chunks finished in the current job; the caller waits on it. */
  Done: 2,
  /** Job number the table belongs to; −1 while the caller writes it. */
  Seq: 3,
  /** Non-zero: workers exit. */
  Stop: 4,
  /** Non-zero: a worker's kernel threw; the caller reports it instead of waiting forever. */
  Failed: 5,
  Chunks: 6,
  Segs: 7,
  /** Segment i: kernel index, params offset, items, chunk — at Segments + SegInts·i. */
  Segments: 8,
  SegInts: 4,
  Size: 32,
} as const;
export type CtlLayout = typeof Ctl;

/** Segments a job: e.g. the q, k and v projections of a layer (the table has room for 6). */
export const MAX_SEGMENTS = 4;
/** Tickets must stay below 2^16, with room for late claims. */
export const MAX_CHUNKS = 0x8000;

/** Every pool kernel: `fn(params, start, end)`, params the byte offset of its parameter block. */
export type KernelFn = (params: number, start: number, end: number) => void;

/**
 * Claims and runs chunks until the job is exhausted: the one claim loop, run by the calling thread
 * and, from this function's own source text, by every worker (worker.ts). It must stay
 * self-contained — no module-scope names, no nested functions — so that its source runs as is.
 */
export function runClaims(ctrl: Int32Array, fns: readonly KernelFn[], C: CtlLayout): void {
  for (;;) {
    const claim = Atomics.add(ctrl, C.Claim, 1);
    const job = claim >>> 16;
    let ticket = claim & 0xffff;
    if (Atomics.load(ctrl, C.Seq) !== job) return;
    const chunks = Atomics.load(ctrl, C.Chunks);
    const segs = Atomics.load(ctrl, C.Segs);
    let fn = -1;
    let params = 0;
    let start = 0;
    let end = 0;
    for (let i = 0; i < segs; i++) {
      const base = C.Segments + i * C.SegInts;
      const items = Atomics.load(ctrl, base + 2);
      const chunk = Atomics.load(ctrl, base + 3);
      const n = Math.ceil(items / chunk);
      if (ticket < n) {
        fn = Atomics.load(ctrl, base);
        params = Atomics.load(ctrl, base + 1);
        start = ticket * chunk;
        end = Math.min(items, start + chunk);
        break;
      }
      ticket -= n;
    }
    if (Atomics.load(ctrl, C.Seq) !== job || fn < 0 || (claim & 0xffff) >= chunks) return; // a stale claim
    fns[fn]!(params, start, end);
    if (Atomics.add(ctrl, C.Done, 1) + 1 === chunks) Atomics.notify(ctrl, C.Done);
  }
}
