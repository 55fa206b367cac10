import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { flatProgram, run } from './program.js';

export const RMS_NORM = 'RecurRmsNormWebGpu';

/**
 * Fused RMSNorm: one invocation per row sums the squares and writes x·rsqrt(mean + eps)·w, so the
 * five tfjs ops of the composite (square, mean, add, rsqrt, two muls) become one dispatch.
 * Inputs x [rows, d] (any leading shape, flattened), weight [d]; attrs { eps }.
 */
export function rmsNormProgramRun(x: TensorInfo, weight: TensorInfo, eps: number): TensorInfo {
  const d = x.shape[x.shape.length - 1]!;
  const rows = x.shape.reduce((a, b) => a * b, 1) / d;
  const program = flatProgram({
    key: 'recurRmsNorm',
    inputs: ['x', 'w'],
    outputShape: [...x.shape],
    count: rows,
    uniformDecl: 'count : i32, cols : i32, eps : f32,',
    body: `
        let base = index * uniforms.cols;
        var sum = 0.0;
        for (var i = 0; i < uniforms.cols; i++) {
          let v = x[base + i];
          sum = sum + v * v;
        }
        let scale = inverseSqrt(sum / f32(uniforms.cols) + uniforms.eps);
        for (var i = 0; i < uniforms.cols; i++) {
          result[base + i] = x[base + i] * scale * w[i];
        }`,
  });
  return run(
    program,
    [x, weight],
    [
      { type: 'int32', data: [rows] },
      { type: 'int32', data: [d] },
      { type: 'float32', data: [eps] },
    ],
  );
}

export const rmsNormKernel: KernelConfig = {
  kernelName: RMS_NORM,
  backendName: 'webgpu',
  kernelFunc: ({ inputs, attrs }) => rmsNormProgramRun(inputs.x!, inputs.weight!, Number(attrs?.eps)),
};
