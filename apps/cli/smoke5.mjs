import { initBackend, tf } from '@recur/tensor';
import { loadModel } from '@recur/engine/node';
await initBackend({ backend: 'webgpu' });
const D = globalThis.GPUDevice.prototype, B = globalThis.GPUBuffer.prototype;
const stats = { pipes: 0, pipeMs: 0, map: 0, mapMs: 0, submit: 0 };
for (const k of ['createComputePipeline']) { const f = D[k]; D[k] = function (...a) { const t = performance.now(); const r = f.apply(this, a); stats.pipes++; stats.pipeMs += performance.now() - t; return r; }; }
{ const f = D.createComputePipelineAsync; D.createComputePipelineAsync = async function (...a) { const t = performance.now(); const r = await f.apply(this, a); stats.pipes++; stats.pipeMs += performance.now() - t; return r; }; }
{ const f = B.mapAsync; B.mapAsync = async function (...a) { const t = performance.now(); const r = await f.apply(this, a); stats.map++; stats.mapMs += performance.now() - t; return r; }; }
const m = await loadModel('/work/shared/models/stories260K/stories260K.gguf');
const cache = m.decoder.newCache();
let id = 1;
for (let i = 0; i < 6; i++) { Object.keys(stats).forEach(k => stats[k] = 0); const t = performance.now(); const out = m.decoder.forward([id], { cache }); const v = await out.data(); out.dispose(); let best = 0; for (let j = 1; j < v.length; j++) if (v[j] > v[best]) best = j; id = best; console.log(i, id, (performance.now()-t).toFixed(0), 'ms', JSON.stringify(stats)); }
