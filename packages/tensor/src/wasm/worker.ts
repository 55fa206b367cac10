import { runClaims } from './claims.js';

/**
 * Source of one WorkerPool worker (a `worker_threads` Worker with `eval: true`, so it needs no file
 * next to the bundle). workerData: { module: WebAssembly.Module, memory, control: SharedArrayBuffer,
 * names: kernel export names, spinMs, ctl: the Ctl layout }. Its claim loop is runClaims itself.
 * Between jobs a worker spins `spinMs` (0: none), then sleeps in Atomics.wait: an idle pool costs
 * nothing, and a spinning worker would take the core that XNNPACK's own pthread needs.
 */
export const workerSource = `
const { workerData, parentPort } = require('node:worker_threads');
const { module, memory, control, names, spinMs, ctl } = workerData;
const ctrl = new Int32Array(control);
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const fns = names.map((n) => exports[n]);
const runClaims = ${runClaims.toString()};
parentPort.postMessage('ready');
let seen = Atomics.load(ctrl, ctl.Gen);
for (;;) {
  const t0 = performance.now();
  let spins = 0;
  while (Atomics.load(ctrl, ctl.Gen) === seen) {
    if (spinMs === 0 || ((++spins & 1023) === 0 && performance.now() - t0 > spinMs)) Atomics.wait(ctrl, ctl.Gen, seen, 1000);
  }
  seen = Atomics.load(ctrl, ctl.Gen);
  if (Atomics.load(ctrl, ctl.Stop) !== 0) break;
  try {
    runClaims(ctrl, fns, ctl);
  } catch (err) {
    Atomics.store(ctrl, ctl.Failed, 1);
    Atomics.notify(ctrl, ctl.Done);
    throw err;
  }
}
`;
