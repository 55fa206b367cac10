import { tf } from '@recur/tensor';

/** One kernel case: the WGSL kernel's output against the float64 reference, under an explicit tolerance. */
export interface CheckResult {
  readonly kernel: string;
  readonly label: string;
  readonly maxError: number;
  readonly tolerance: number;
  /** The Recur WGSL kernel the op must reach. */
  readonly expectKernel: string;
  /** tfjs kernels the public op dispatched (should name the Recur WGSL kernel). */
  readonly dispatched: string[];
  readonly leakedTensors: number;
  readonly pass: boolean;
}

export interface KernelCase {
  readonly kernel: string;
  readonly label: string;
  readonly tolerance: number;
  /** The tfjs kernel the op must reach on WebGPU. */
  readonly expectKernel: string;
  /** Runs the op on the active backend. */
  run(): tf.Tensor;
  /** The float64 reference of the same values. */
  reference(): ArrayLike<number>;
}

export async function runCase(c: KernelCase): Promise<CheckResult> {
  const before = tf.memory().numTensors;
  let out: tf.Tensor | undefined;
  const profile = await tf.profile(() => {
    out = c.run();
    return out;
  });
  const got = await out!.data();
  out!.dispose();
  const want = c.reference();
  let maxError = got.length === want.length ? 0 : Infinity;
  for (let i = 0; i < got.length; i++)
    maxError = Math.max(
      maxError,
      Math.abs((got[i] ?? NaN) - (want[i] ?? NaN)) || (Number.isNaN(got[i]) ? Infinity : 0),
    );
  const dispatched = [...new Set(profile.kernels.map((k) => k.name))];
  const leakedTensors = tf.memory().numTensors - before;
  const pass = maxError <= c.tolerance && dispatched.includes(c.expectKernel) && leakedTensors === 0;
  return {
    kernel: c.kernel,
    label: c.label,
    maxError,
    tolerance: c.tolerance,
    expectKernel: c.expectKernel,
    dispatched,
    leakedTensors,
    pass,
  };
}

/** Deterministic values in [-1, 1) (a small LCG: the checks need repeatable inputs, not good randomness). */
export function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}
