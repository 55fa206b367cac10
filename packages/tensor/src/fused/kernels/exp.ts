import { f32, get, i32, ins, set } from '../../wasm/asm.js';
import type { Code } from '../../wasm/encode.js';

/**
 * exp(x) for x ≤ 0 (softmax after max subtraction), left on the stack from f32 local `x`: 2^n·e^r
 * with n = round(x·log2 e), r = x − n·ln 2 (two-part ln 2), e^r by its degree-6 Taylor polynomial
 * (|r| ≤ 0.35: relative error ≤ 2e-7). x is clamped to −88 first (local `x` changes), where 2^n
 * bottoms out at the all-zero bit pattern: exp of anything below is 0 (true value < 1e-38).
 */
export function expNonPositive(x: number, n: number, r: number): Code {
  const poly = [1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1];
  return [
    ...get(x),
    ...f32(-88),
    ...ins.f32Max,
    ...set(x),
    ...get(x),
    ...f32(Math.LOG2E),
    ...ins.f32Mul,
    ...ins.f32Nearest,
    ...set(n),
    ...get(x),
    ...get(n),
    ...f32(0.693145751953125),
    ...ins.f32Mul,
    ...ins.f32Sub,
    ...get(n),
    ...f32(1.428606765330187e-6),
    ...ins.f32Mul,
    ...ins.f32Sub,
    ...set(r),
    // Horner: ((((c6·r + c5)·r + …)·r + 1)
    ...f32(poly[0]!),
    ...poly.slice(1).flatMap((c) => [...get(r), ...ins.f32Mul, ...f32(c), ...ins.f32Add]),
    ...get(n),
    ...ins.i32TruncF32S,
    ...i32(127),
    ...ins.i32Add,
    ...i32(23),
    ...ins.i32Shl,
    ...ins.f32ReinterpretI32,
    ...ins.f32Mul,
  ];
}

/** The f32x4 splat of a constant. */
export const splatF = (v: number): Code => [...f32(v), ...ins.f32x4Splat];

/**
 * exp(x) lane-wise for x ≤ 0 on the stack → stack, as expNonPositive (same constants, same error)
 * with f32x4 ops; `x`, `n`, `r` are v128 scratch locals.
 */
export function expNonPositiveV(x: number, n: number, r: number): Code {
  const poly = [1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1];
  return [
    ...splatF(-88),
    ...ins.f32x4Max,
    ...set(x),
    ...get(x),
    ...splatF(Math.LOG2E),
    ...ins.f32x4Mul,
    ...ins.f32x4Nearest,
    ...set(n),
    ...get(x),
    ...get(n),
    ...splatF(0.693145751953125),
    ...ins.f32x4Mul,
    ...ins.f32x4Sub,
    ...get(n),
    ...splatF(1.428606765330187e-6),
    ...ins.f32x4Mul,
    ...ins.f32x4Sub,
    ...set(r),
    ...splatF(poly[0]!),
    ...poly.slice(1).flatMap((c) => [...get(r), ...ins.f32x4Mul, ...splatF(c), ...ins.f32x4Add]),
    ...get(n),
    ...ins.i32x4TruncSatF32x4S,
    ...i32(127),
    ...ins.i32x4Splat,
    ...ins.i32x4Add,
    ...i32(23),
    ...ins.i32x4Shl,
    ...ins.f32x4Mul,
  ];
}
