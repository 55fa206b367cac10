import { startBackend } from './backend.js';
import { runCase, type CheckResult } from './kernelChecks/check.js';
import { kernelCases } from './kernelChecks/cases.js';

/**
 * kernels.html: runs every WGSL kernel case against its float64 reference on WebGPU and lists the
 * results; `document.body.dataset.results` holds them as JSON for the browser tests.
 */
async function main(): Promise<void> {
  const backend = await startBackend('webgpu', new URL('wasm/', document.baseURI).href);
  document.getElementById('backend')!.textContent = backend.name;
  if (backend.name !== 'webgpu')
    throw new Error(`WebGPU is not available here (${backend.fallbackReason ?? 'unknown reason'})`);
  const results: CheckResult[] = [];
  const table = document.getElementById('results') as HTMLTableElement;
  for (const c of kernelCases) {
    const r = await runCase(c);
    results.push(r);
    const row = table.insertRow();
    for (const cell of [
      r.kernel,
      r.label,
      r.maxError.toExponential(2),
      r.tolerance.toExponential(0),
      r.pass ? 'pass' : `FAIL (${r.dispatched.join(', ')}; leaked ${r.leakedTensors})`,
    ])
      row.insertCell().textContent = cell;
  }
  document.body.dataset.results = JSON.stringify(results);
  document.body.dataset.state = 'done';
}

main().catch((err: unknown) => {
  document.body.dataset.error = err instanceof Error ? err.message : String(err);
  document.body.dataset.state = 'failed';
});
