import { Slot } from './gemvProtocol.js';

/**
 * Source of one GEMV worker (a `worker_threads` Worker with `eval: true`, so it needs no file next to
 * the bundle). workerData: { module: WebAssembly.Module, memory: shared WebAssembly.Memory, control:
 * SharedArrayBuffer }. Its claim loop is runClaims (gemvProtocol.ts) written out: keep them in step.
 * Idle workers sleep in Atomics.wait rather than spin: on 2 cores a spinning worker takes the core
 * XNNPACK's own pthread needs, and SmolLM decode measured ≈15% slower with a 20k-iteration spin.
 */
export const gemvWorkerSource = `
const { workerData, parentPort } = require('node:worker_threads');
const ctrl = new Int32Array(workerData.control);
const { gemvRows } = new WebAssembly.Instance(workerData.module, { env: { memory: workerData.memory } }).exports;
function runClaims() {
  for (;;) {
    const claim = Atomics.add(ctrl, ${Slot.Claim}, 1);
    const job = claim >>> 16, ticket = claim & 0xffff;
    if (Atomics.load(ctrl, ${Slot.Seq}) !== job) return;
    const w = Atomics.load(ctrl, ${Slot.W}), x = Atomics.load(ctrl, ${Slot.X}), y = Atomics.load(ctrl, ${Slot.Y});
    const rows = Atomics.load(ctrl, ${Slot.Rows}), k = Atomics.load(ctrl, ${Slot.K});
    const chunkRows = Atomics.load(ctrl, ${Slot.ChunkRows}), chunks = Atomics.load(ctrl, ${Slot.Chunks});
    if (Atomics.load(ctrl, ${Slot.Seq}) !== job || ticket >= chunks) return;
    const start = ticket * chunkRows;
    gemvRows(w, x, y, start, Math.min(rows, start + chunkRows), k);
    if (Atomics.add(ctrl, ${Slot.Done}, 1) + 1 === chunks) Atomics.notify(ctrl, ${Slot.Done});
  }
}
parentPort.postMessage('ready');
let seen = Atomics.load(ctrl, ${Slot.Gen});
for (;;) {
  Atomics.wait(ctrl, ${Slot.Gen}, seen);
  seen = Atomics.load(ctrl, ${Slot.Gen});
  if (Atomics.load(ctrl, ${Slot.Stop}) !== 0) break;
  try {
    runClaims();
  } catch (err) {
    Atomics.store(ctrl, ${Slot.Failed}, 1);
    Atomics.notify(ctrl, ${Slot.Done});
    throw err;
  }
}
`;
