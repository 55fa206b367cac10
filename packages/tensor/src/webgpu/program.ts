import { backend as activeTfBackend, type TensorInfo } from '@tensorflow/tfjs-core';
import { webgpu_util, type WebGPUBackend, type WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

/** A uniform value appended after tfjs's own (NaN, Inf, shapes, strides): `{ type: 'int32' | 'float32', data }`. */
export type ProgramUniform = { type: 'int32' | 'float32'; data: number[] };

const WORKGROUP = 64;

/**
 * The common shape of Recur's WGSL programs: one invocation per item of `count` work items, a flat
 * dispatch, and user code that reads its inputs by name and writes `result`. tfjs generates the
 * buffer bindings and the `uniforms` struct (its own fields, then `uniformDecl`); `main(index)` is
 * called once per invocation (index may exceed count: guard it).
 */
export function flatProgram(options: {
  readonly key: string;
  readonly inputs: readonly string[];
  readonly outputShape: number[];
  readonly count: number;
  readonly uniformDecl: string;
  readonly body: string;
}): WebGPUProgram {
  const layout = { x: [0] };
  return {
    shaderKey: options.key,
    variableNames: [...options.inputs],
    outputShape: options.outputShape,
    dispatchLayout: layout,
    dispatch: webgpu_util.computeDispatch(layout, [options.count], [WORKGROUP, 1, 1]),
    workgroupSize: [WORKGROUP, 1, 1],
    uniforms: options.uniformDecl,
    getUserCode: () => `
      fn main(index : i32) {
        if (index >= uniforms.count) { return; }
        ${options.body}
      }`,
  };
}

/** The running WebGPU backend (throws when another backend is active). */
export function webGpuBackend(): WebGPUBackend {
  const b = activeTfBackend() as WebGPUBackend;
  if (typeof (b as Partial<WebGPUBackend>).runWebGPUProgram !== 'function')
    throw new Error('Recur WebGPU kernel called while the active tfjs backend is not webgpu');
  return b;
}

export function run(program: WebGPUProgram, inputs: TensorInfo[], uniforms: ProgramUniform[]): TensorInfo {
  return webGpuBackend().runWebGPUProgram(program, inputs, 'float32', uniforms);
}
