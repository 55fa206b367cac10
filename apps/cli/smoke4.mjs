import { initBackend, tf } from '@recur/tensor';
import { loadModel } from '@recur/engine/node';
await initBackend({ backend: 'webgpu' });
const m = await loadModel('/work/shared/models/stories260K/stories260K.gguf');
const cache = m.decoder.newCache();
let id = 1;
for (let i = 0; i < 12; i++) { const t = performance.now(); const out = m.decoder.forward([id], { cache }); const v = await out.data(); out.dispose(); let best = 0; for (let j = 1; j < v.length; j++) if (v[j] > v[best]) best = j; id = best; console.log(i, id, (performance.now()-t).toFixed(0), 'ms'); }
