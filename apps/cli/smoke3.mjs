import { initBackend, tf } from '@recur/tensor';
await initBackend({ backend: 'webgpu' });
const a = tf.randomNormal([8, 8]);
for (let i = 0; i < 5; i++) { let t = performance.now(); const b = tf.add(a, 1); await b.data(); b.dispose(); console.log('add+read', (performance.now()-t).toFixed(1)); }
for (let i = 0; i < 3; i++) { let t = performance.now(); const b = tf.add(a, 1); b.dataSync(); b.dispose(); console.log('add+readSync', (performance.now()-t).toFixed(1)); }
