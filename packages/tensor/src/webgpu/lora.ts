import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { flatProgram, run, webGpuBackend, type ProgramUniform } from './program.js';

export const BATCHED_LORA = 'RecurBatchedLoraWebGpu';

/**
 * Batched per-row LoRA (depth-wise batching: rows of one call sit at different loops, so each row
 * uses its own adapter): delta[r] = scale · B[idx[r]] · (A[idx[r]] · x[r]).
 * x [R, in], a [N, rank, in], b [N, out, rank], index int32 [R] (0..N-1) → [R, out].
 * Two dispatches of one gathered mat-vec: u = A[idx]·x [R, rank], then delta = scale · B[idx]·u.
 */
export function batchedLoraRun(
  x: TensorInfo,
  a: TensorInfo,
  b: TensorInfo,
  index: TensorInfo,
  scale: number,
): TensorInfo {
  const [, rank] = a.shape as [number, number, number];
  const [, outDim] = b.shape as [number, number, number];
  const u = gatheredMatVec(x, a, index, rank, 1);
  const out = gatheredMatVec(u, b, index, outDim, scale);
  webGpuBackend().disposeData(u.dataId);
  return out;
}

/**
 * y[r, o] = scale · Σ_k x[r, k] · w[idx[r], o, k]: every row through its own matrix of the stack
 * w [N, outDim, K], one invocation per (row, o). x [R, K] → [R, outDim].
 */
function gatheredMatVec(x: TensorInfo, w: TensorInfo, index: TensorInfo, outDim: number, scale: number): TensorInfo {
  const [rows, k] = x.shape as [number, number];
  const program = flatProgram({
    key: 'recurGatheredMatVec',
    inputs: ['x', 'w', 'idx'],
    outputShape: [rows, outDim],
    count: rows * outDim,
    uniformDecl: 'count : i32, outDim : i32, k : i32, scale : f32,',
    body: `
        let row = index / uniforms.outDim;
        let o = index % uniforms.outDim;
        let wBase = (idx[row] * uniforms.outDim + o) * uniforms.k;
        let xBase = row * uniforms.k;
        var sum = 0.0;
        for (var i = 0; i < uniforms.k; i++) { sum = sum + x[xBase + i] * w[wBase + i]; }
        result[index] = sum * uniforms.scale;`,
  });
  const uniforms: ProgramUniform[] = [
    { type: 'int32', data: [rows * outDim] },
    { type: 'int32', data: [outDim] },
    { type: 'int32', data: [k] },
    { type: 'float32', data: [scale] },
  ];
  return run(program, [x, w, index], uniforms);
}

export const batchedLoraKernel: KernelConfig = {
  kernelName: BATCHED_LORA,
  backendName: 'webgpu',
  kernelFunc: ({ inputs, attrs }) =>
    batchedLoraRun(inputs.x!, inputs.a!, inputs.b!, inputs.index!, Number(attrs?.scale ?? 1)),
};
