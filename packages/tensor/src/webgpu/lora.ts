import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { flatProgram, run, webGpuBackend } from './program.js';

export const BATCHED_LORA = 'RecurBatchedLoraWebGpu';

/**
 * Batched per-row LoRA (depth-wise batching: rows of one call sit at different loops, so each row
 * uses its own adapter): delta[r] = scale · B[idx[r]] · (A[idx[r]] · x[r]).
 * x [R, in], a [N, rank, in], b [N, out, rank], index int32 [R] (0..N-1) → [R, out].
 * Two dispatches: u [R, rank] = one invocation per (row, j); delta = one invocation per (row, o).
 */
export function batchedLoraRun(x: TensorInfo, a: TensorInfo, b: TensorInfo, index: TensorInfo, scale: number): TensorInfo {
  const [rows, inDim] = x.shape as [number, number];
  const [, rank] = a.shape as [number, number, number];
  const [, outDim] = b.shape as [number, number, number];
  const down = flatProgram({
    key: 'recurLoraDown',
    inputs: ['x', 'a', 'idx'],
    outputShape: [rows, rank],
    count: rows * rank,
    uniformDecl: 'count : i32, inDim : i32, rank : i32,',
    body: `
        let row = index / uniforms.rank;
        let j = index % uniforms.rank;
        let aBase = (idx[row] * uniforms.rank + j) * uniforms.inDim;
        let xBase = row * uniforms.inDim;
        var sum = 0.0;
        for (var i = 0; i < uniforms.inDim; i++) { sum = sum + x[xBase + i] * a[aBase + i]; }
        result[index] = sum;`,
  });
  const u = run(down, [x, a, index], [{ type: 'int32', data: [rows * rank] }, { type: 'int32', data: [inDim] }, { type: 'int32', data: [rank] }]);
  const up = flatProgram({
    key: 'recurLoraUp',
    inputs: ['u', 'b', 'idx'],
    outputShape: [rows, outDim],
    count: rows * outDim,
    uniformDecl: 'count : i32, outDim : i32, rank : i32, scale : f32,',
    body: `
        let row = index / uniforms.outDim;
        let o = index % uniforms.outDim;
        let bBase = (idx[row] * uniforms.outDim + o) * uniforms.rank;
        let uBase = row * uniforms.rank;
        var sum = 0.0;
        for (var j = 0; j < uniforms.rank; j++) { sum = sum + u[uBase + j] * b[bBase + j]; }
        result[index] = sum * uniforms.scale;`,
  });
  const out = run(up, [u, b, index], [{ type: 'int32', data: [rows * outDim] }, { type: 'int32', data: [outDim] }, { type: 'int32', data: [rank] }, { type: 'float32', data: [scale] }]);
  webGpuBackend().disposeData(u.dataId);
  return out;
}

export const batchedLoraKernel: KernelConfig = {
  kernelName: BATCHED_LORA,
  backendName: 'webgpu',
  kernelFunc: ({ inputs, attrs }) => batchedLoraRun(inputs['x']!, inputs['a']!, inputs['b']!, inputs['index']!, Number(attrs?.['scale'] ?? 1)),
};
