import { initBackend, tf } from '@recur/tensor';
await initBackend({ backend: 'webgpu' });
const x = tf.randomNormal([1, 64]); const w = tf.randomNormal([64, 512]);
for (const type of [-1, 0, 2, 3]) {
  tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', type);
  for (const n of [5, 30]) { const t = performance.now(); const ys = []; for (let i = 0; i < n; i++) ys.push(tf.matMul(x, w)); await ys[n-1].data(); tf.dispose(ys); console.log(type, n, 'matmuls', ((performance.now() - t)/n).toFixed(1), 'ms each'); }
}
