import { KERNEL_NAMES } from './kernels/index.js';

/**
 * The control block of the fused-kernel pool (an Int32Array over a SharedArrayBuffer). A claim word
 * is `job << 16 | ticket`; the segment table carries its job number in `Seq` (−1 while rewritten),
 * so a late worker whose claim lands in a newer job runs that job's chunk with that job's table, and
 * one whose claim is past the end goes back to waiting. The main thread starts a job only after the
 * previous one's chunks are all done, so no chunk ever runs against the wrong table.
 */
export const Ctl = {
  Gen: 0, Claim: 1, Done: 2, Seq: 3, Stop: 4, Failed: 5, Chunks: 6, Segs: 7,
  /** Segment i: kernel index, params offset, items, chunk — at Segments + 4·i. */
  Segments: 8,
  Size: 32,
} as const;
export const SEG_INTS = 4;
export const MAX_SEGMENTS = 4;

/** Source of one pool worker (`eval: true`); workerData: { module, memory, control }. Its claim loop mirrors FusedPool.claimChunks. */
export function fusedWorkerSource(spinMs: number): string {
  return `
const { workerData, parentPort } = require('node:worker_threads');
const ctrl = new Int32Array(workerData.control);
const exports = new WebAssembly.Instance(workerData.module, { env: { memory: workerData.memory } }).exports;
const fns = ${JSON.stringify(KERNEL_NAMES)}.map((n) => exports[n]);
function runClaims() {
  for (;;) {
    const claim = Atomics.add(ctrl, ${Ctl.Claim}, 1);
    const job = claim >>> 16;
    let ticket = claim & 0xffff;
    if (Atomics.load(ctrl, ${Ctl.Seq}) !== job) return;
    const chunks = Atomics.load(ctrl, ${Ctl.Chunks});
    const segs = Atomics.load(ctrl, ${Ctl.Segs});
    let fn = -1, params = 0, start = 0, end = 0;
    for (let i = 0; i < segs; i++) {
      const base = ${Ctl.Segments} + i * ${SEG_INTS};
      const items = Atomics.load(ctrl, base + 2), chunk = Atomics.load(ctrl, base + 3);
      const n = Math.ceil(items / chunk);
      if (ticket < n) {
        fn = Atomics.load(ctrl, base); params = Atomics.load(ctrl, base + 1);
        start = ticket * chunk; end = Math.min(items, start + chunk);
        break;
      }
      ticket -= n;
    }
    if (Atomics.load(ctrl, ${Ctl.Seq}) !== job || fn < 0 || (claim & 0xffff) >= chunks) return; // a stale claim
    fns[fn](params, start, end);
    if (Atomics.add(ctrl, ${Ctl.Done}, 1) + 1 === chunks) Atomics.notify(ctrl, ${Ctl.Done});
  }
}
parentPort.postMessage('ready');
let seen = Atomics.load(ctrl, ${Ctl.Gen});
for (;;) {
  const t0 = performance.now();
  let spins = 0;
  while (Atomics.load(ctrl, ${Ctl.Gen}) === seen) {
    if ((++spins & 1023) === 0 && performance.now() - t0 > ${spinMs}) Atomics.wait(ctrl, ${Ctl.Gen}, seen, 1000);
  }
  seen = Atomics.load(ctrl, ${Ctl.Gen});
  if (Atomics.load(ctrl, ${Ctl.Stop}) !== 0) break;
  try {
    runClaims();
  } catch (err) {
    Atomics.store(ctrl, ${Ctl.Failed}, 1);
    Atomics.notify(ctrl, ${Ctl.Done});
    throw err;
  }
}
`;
}
