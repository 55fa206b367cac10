import { initBackend, tf } from '@recur/tensor';
await initBackend({ backend: 'webgpu' });
let x = tf.randomNormal([1, 64]); const w = tf.randomNormal([64, 512]);
for (const n of [10, 100, 100]) {
  const t = performance.now(); let y = x;
  for (let i = 0; i < n; i++) { const z = tf.add(y, 1); if (y !== x) y.dispose(); y = z; }
  await y.data(); y.dispose(); console.log(n, 'adds', (performance.now() - t).toFixed(0), 'ms');
}
for (const n of [10, 50]) { const t = performance.now(); const ys = []; for (let i = 0; i < n; i++) ys.push(tf.matMul(x, w)); await ys[n-1].data(); tf.dispose(ys); console.log(n, 'matmuls', (performance.now() - t).toFixed(0), 'ms'); }
