import { getBackend, type Tensor, type Tensor1D, type Tensor2D, type Tensor3D } from '@tensorflow/tfjs-core';
import type { BackendName } from './backend.js';
import type { CausalAttentionOptions } from './ops/causalAttention.js';
import type { SwiGluWeights } from './ops/swiGluMlp.js';

/**
 * Every public op goes: public op (checks shapes) → kernel name → kernel for the active backend.
 * The default kernel of each op is a composition of tfjs-core ops, so it runs on every backend;
 * a backend-specific kernel (e.g. a fused WebGPU shader) is registered under the same name.
 */
export interface RecurKernels {
  RecurLinear: (x: Tensor2D, weight: Tensor2D, bias: Tensor1D | undefined) => Tensor2D;
  RecurRmsNorm: (x: Tensor, weight: Tensor1D, eps: number) => Tensor;
  RecurApplyRope: (x: Tensor3D, positions: Int32Array, invFreq: Float32Array) => Tensor3D;
  RecurCausalAttention: (q: Tensor3D, k: Tensor3D, v: Tensor3D, opts: CausalAttentionOptions) => Tensor2D;
  RecurSwiGluMlp: (x: Tensor2D, w: SwiGluWeights) => Tensor2D;
}

export type KernelName = keyof RecurKernels;

type KernelTable = { [K in KernelName]: Map<string, RecurKernels[K]> };

// Backend name → kernel, per op. Empty until a backend-specific kernel is registered.
const registered: KernelTable = {
  RecurLinear: new Map(),
  RecurRmsNorm: new Map(),
  RecurApplyRope: new Map(),
  RecurCausalAttention: new Map(),
  RecurSwiGluMlp: new Map(),
};

/**
 * Makes `kernel` the implementation of `name` while `backend` is active. Inputs arrive already
 * shape-checked; the kernel must free its intermediates. Returns a function that unregisters it.
 */
export function registerKernel<K extends KernelName>(
  name: K,
  backend: BackendName,
  kernel: RecurKernels[K],
): () => void {
  const table: KernelTable[K] = registered[name];
  table.set(backend, kernel);
  return () => {
    if (table.get(backend) === kernel) table.delete(backend);
  };
}

/** An op's own kernels: `default` runs anywhere; a backend may have a faster one of its own. */
export interface BuiltinKernels<K extends KernelName> {
  readonly default: RecurKernels[K];
  readonly [backend: string]: RecurKernels[K] | undefined;
}

// > 0 while withBuiltinKernels runs: registered kernels are passed over.
let builtinOnly = 0;

/** For the active backend: a registered kernel, else the op's kernel for that backend, else its default. */
export function kernelFor<K extends KernelName>(name: K, builtins: BuiltinKernels<K>): RecurKernels[K] {
  const backend = getBackend();
  const own = builtinOnly > 0 ? undefined : registered[name].get(backend);
  return own ?? builtins[backend] ?? builtins.default;
}

/**
 * Runs `fn` with every op on its built-in kernels (tfjs-core compositions, or the op's own per-backend
 * ones), passing over kernels registered with `registerKernel` — the fused WebGPU shaders, which have no
 * gradients — so autodiff (tf.valueAndGrads) can run inside `fn` on any backend. Synchronous, so no other
 * work interleaves with the switch.
 */
export function withBuiltinKernels<T>(fn: () => T): T {
  builtinOnly++;
  try {
    return fn();
  } finally {
    builtinOnly--;
  }
}
