import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { flatProgram, run } from './program.js';

export const ROPE = 'RecurRopeWebGpu';

/**
 * Rotary embedding, rotate-half convention: one invocation per (row, head, i < headDim/2) rotates
 * the pair (x[i], x[i + half]) by the angle whose cos/sin the caller tabulated in float64.
 * Inputs x [T, heads, headDim], cos and sin [T, headDim/2] → [T, heads, headDim].
 */
export function ropeProgramRun(x: TensorInfo, cos: TensorInfo, sin: TensorInfo): TensorInfo {
  const [t, heads, headDim] = x.shape as [number, number, number];
  const half = headDim / 2;
  const program = flatProgram({
    key: 'recurRope',
    inputs: ['x', 'cosT', 'sinT'],
    outputShape: [t, heads, headDim],
    count: t * heads * half,
    uniformDecl: 'count : i32, heads : i32, half : i32,',
    body: `
        let i = index % uniforms.half;
        let rowHead = index / uniforms.half;
        let row = rowHead / uniforms.heads;
        let base = rowHead * 2 * uniforms.half;
        let x1 = x[base + i];
        let x2 = x[base + uniforms.half + i];
        let c = cosT[row * uniforms.half + i];
        let s = sinT[row * uniforms.half + i];
        result[base + i] = x1 * c - x2 * s;
        result[base + uniforms.half + i] = x2 * c + x1 * s;`,
  });
  return run(
    program,
    [x, cos, sin],
    [
      { type: 'int32', data: [t * heads * half] },
      { type: 'int32', data: [heads] },
      { type: 'int32', data: [half] },
    ],
  );
}

export const ropeKernel: KernelConfig = {
  kernelName: ROPE,
  backendName: 'webgpu',
  kernelFunc: ({ inputs }) => ropeProgramRun(inputs.x!, inputs.cos!, inputs.sin!),
};

/** cos and sin of positions[t]·invFreq[i], angles in float64: two [T, half] tables. */
export function ropeTables(positions: Int32Array, invFreq: Float32Array): { cos: Float32Array; sin: Float32Array } {
  const half = invFreq.length;
  const cos = new Float32Array(positions.length * half);
  const sin = new Float32Array(positions.length * half);
  positions.forEach((pos, row) => {
    for (let i = 0; i < half; i++) {
      const angle = pos * (invFreq[i] ?? 0);
      cos[row * half + i] = Math.cos(angle);
      sin[row * half + i] = Math.sin(angle);
    }
  });
  return { cos, sin };
}
