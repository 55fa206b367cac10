import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { flatProgram, run } from './program.js';

export const ATTENTION = 'RecurAttentionWebGpu';

/**
 * Causal grouped-query attention over a KV cache in one dispatch: one invocation per (query row,
 * head) streams over the keys it may see (s ≤ queryOffset + t) with an online softmax (running max
 * and sum, rescaling the accumulator), so no [T, S] score matrix is ever stored. The accumulator is
 * a private array of headDim floats, so headDim is part of the shader key. The KV length S and
 * queryOffset are uniforms: a growing cache reuses one compiled pipeline.
 * q [T, nHeads, hd], k and v [S, nKvHeads, hd] → [T, nHeads·hd].
 */
export function attentionProgramRun(q: TensorInfo, k: TensorInfo, v: TensorInfo, queryOffset: number): TensorInfo {
  const [t, heads, headDim] = q.shape as [number, number, number];
  const [keys, kvHeads] = k.shape as [number, number, number];
  const program = flatProgram({
    key: `recurAttention_${headDim}`,
    inputs: ['q', 'k', 'v'],
    outputShape: [t, heads * headDim],
    count: t * heads,
    uniformDecl: 'count : i32, heads : i32, group : i32, kvHeads : i32, keys : i32, queryOffset : i32, scale : f32,',
    body: `
        let row = index / uniforms.heads;
        let head = index % uniforms.heads;
        let kvHead = head / uniforms.group;
        let lastKey = min(uniforms.queryOffset + row, uniforms.keys - 1);
        let qBase = index * ${headDim};
        var acc : array<f32, ${headDim}>;
        var runMax = -3.0e38;
        var runSum = 0.0;
        for (var s = 0; s <= lastKey; s++) {
          let kBase = (s * uniforms.kvHeads + kvHead) * ${headDim};
          var dot = 0.0;
          for (var d = 0; d < ${headDim}; d++) { dot = dot + q[qBase + d] * k[kBase + d]; }
          let score = dot * uniforms.scale;
          let newMax = max(runMax, score);
          let rescale = exp(runMax - newMax);
          let p = exp(score - newMax);
          runSum = runSum * rescale + p;
          for (var d = 0; d < ${headDim}; d++) { acc[d] = acc[d] * rescale + p * v[kBase + d]; }
          runMax = newMax;
        }
        for (var d = 0; d < ${headDim}; d++) { result[qBase + d] = acc[d] / runSum; }`,
  });
  return run(
    program,
    [q, k, v],
    [
      { type: 'int32', data: [t * heads] },
      { type: 'int32', data: [heads] },
      { type: 'int32', data: [heads / kvHeads] },
      { type: 'int32', data: [kvHeads] },
      { type: 'int32', data: [keys] },
      { type: 'int32', data: [queryOffset] },
      { type: 'float32', data: [1 / Math.sqrt(headDim)] },
    ],
  );
}

export const attentionKernel: KernelConfig = {
  kernelName: ATTENTION,
  backendName: 'webgpu',
  kernelFunc: ({ inputs, attrs }) => attentionProgramRun(inputs.q!, inputs.k!, inputs.v!, Number(attrs?.queryOffset)),
};
