import {
  F32, I32, V128, add, bump, f32, f32Load, f32Store, get, hsum, i32, i32Load, ins, kernelModule, param, set, v128Load, v128Store, whileLt, zeroV,
  type Code, type KernelFunction,
} from './wasmAsm.js';

/**
 * The fused decode kernels, wasm SIMD emitted from TypeScript. Every kernel is
 * `fn(params, start, end)`: `params` is the byte offset of an i32 block in memory (layouts below,
 * all pointers are byte offsets, all data float32), and [start, end) is the range of work items a
 * thread claimed, so one generic worker loop runs any of them. Row widths must be multiples of 4.
 */
export const KERNEL_NAMES = ['linearRows', 'attnScores', 'attnValues', 'attention'] as const;
export type KernelName = (typeof KERNEL_NAMES)[number];

/** linearRows params: y[t, r] (+)= Σ_j w[r, j]·x[t, j] for weight rows r in [start, end), t < T. */
export const LinearParams = { W: 0, X: 1, Y: 2, K: 3, T: 4, XStride: 5, YStride: 6, Accumulate: 7, Size: 8 } as const;
/** attn* params; items are (t, h) = t·nHeads + h. Row info: 4 i32 per row t (see RowInfo). */
export const AttnParams = { Q: 0, QStride: 1, RowInfo: 2, Scores: 3, ScoreStride: 4, Heads: 5, Group: 6, HeadBytes: 7, Scale: 8, Out: 9, OutStride: 10, Size: 12 } as const;
/** Per-row cache description: K of kv head 0 at position 0, V likewise, positions attended, bytes between kv heads. */
export const RowInfo = { KBase: 0, VBase: 1, Context: 2, HeadStride: 3, Size: 4 } as const;

class Locals {
  readonly types: number[] = [];
  constructor(private next: number) {}
  add(type: number): number {
    this.types.push(type);
    return this.next++;
  }
  /** One local of `type` per name. */
  named<K extends string>(type: number, ...names: K[]): Record<K, number> {
    return Object.fromEntries(names.map((n) => [n, this.add(type)])) as Record<K, number>;
  }
}

/** Stores f32 local `s` at `addr`, adding what is there when local `accumulate` is non-zero. */
function storeMaybeAdd(addr: number, s: number, accumulate: number): Code {
  return [...get(addr), ...get(s), ...get(addr), ...f32Load(), ...ins.f32Add, ...get(s), ...get(accumulate), ...ins.select, ...f32Store()];
}

function linearRows(): KernelFunction {
  const [p, r0, r1] = [0, 1, 2];
  const L = new Locals(3);
  const { w, x, y, kb, T, xs, ys, acc, r, wr, t, t4, j, k64, xt, x1, x2, x3, yt, yp } = L.named(I32, 'w', 'x', 'y', 'kb', 'T', 'xs', 'ys', 'acc', 'r', 'wr', 't', 't4', 'j', 'k64', 'xt', 'x1', 'x2', 'x3', 'yt', 'yp');
  const { a0, a1, a2, a3, wv } = L.named(V128, 'a0', 'a1', 'a2', 'a3', 'wv');
  const s = L.add(F32);
  const a = [a0, a1, a2, a3] as const;
  const P = LinearParams;
  const fma = (accum: number, wExpr: Code, xPtr: number, offset = 0): Code => [
    ...get(accum), ...wExpr, ...get(xPtr), ...get(j), ...ins.i32Add, ...v128Load(offset), ...ins.f32x4Mul, ...ins.f32x4Add, ...set(accum),
  ];
  const wAt = (offset: number): Code => [...get(wr), ...get(j), ...ins.i32Add, ...v128Load(offset)];
  const out = (value: Code, rowOffsetTimes: number): Code => [
    ...value, ...set(s),
    ...get(yt), ...get(ys), ...i32(rowOffsetTimes), ...ins.i32Mul, ...ins.i32Add, ...set(yp),
    ...storeMaybeAdd(yp, s, acc),
  ];
  // Four x rows share each weight load; the weight row stays in L1 between groups.
  const fourRows: Code = [
    ...add(xt, xs), ...set(x1), ...add(x1, xs), ...set(x2), ...add(x2, xs), ...set(x3),
    ...a.flatMap((v) => [...zeroV, ...set(v)]), ...i32(0), ...set(j),
    ...whileLt(j, kb, [
      ...wAt(0), ...set(wv),
      ...fma(a0, get(wv), xt), ...fma(a1, get(wv), x1), ...fma(a2, get(wv), x2), ...fma(a3, get(wv), x3),
      ...bump(j, 16),
    ]),
    ...out(hsum(a0), 0), ...out(hsum(a1), 1), ...out(hsum(a2), 2), ...out(hsum(a3), 3),
    ...bump(t, 4),
    ...get(xt), ...get(xs), ...i32(2), ...ins.i32Shl, ...ins.i32Add, ...set(xt),
    ...get(yt), ...get(ys), ...i32(2), ...ins.i32Shl, ...ins.i32Add, ...set(yt),
  ];
  // One x row: four accumulators over 16 floats per step keep the adds off the critical path.
  const oneRow: Code = [
    ...a.flatMap((v) => [...zeroV, ...set(v)]), ...i32(0), ...set(j),
    ...whileLt(j, k64, [...a.flatMap((v, i) => fma(v, wAt(16 * i), xt, 16 * i)), ...bump(j, 64)]),
    ...get(a0), ...get(a1), ...ins.f32x4Add, ...get(a2), ...get(a3), ...ins.f32x4Add, ...ins.f32x4Add, ...set(a0),
    ...whileLt(j, kb, [...fma(a0, wAt(0), xt), ...bump(j, 16)]),
    ...out(hsum(a0), 0),
    ...bump(t, 1), ...add(xt, xs), ...set(xt), ...add(yt, ys), ...set(yt),
  ];
  const body: Code = [
    ...param(p, P.W, w), ...param(p, P.X, x), ...param(p, P.Y, y), ...param(p, P.T, T),
    ...param(p, P.XStride, xs), ...param(p, P.YStride, ys), ...param(p, P.Accumulate, acc),
    ...get(p), ...i32Load(4 * P.K), ...i32(2), ...ins.i32Shl, ...set(kb),
    ...get(kb), ...i32(~63), 0x71, ...set(k64), // i32.and
    ...get(T), ...i32(~3), 0x71, ...set(t4),
    ...get(r0), ...set(r),
    ...whileLt(r, r1, [
      ...get(w), ...get(r), ...get(kb), ...ins.i32Mul, ...ins.i32Add, ...set(wr),
      ...get(y), ...get(r), ...i32(2), ...ins.i32Shl, ...ins.i32Add, ...set(yt),
      ...get(x), ...set(xt), ...i32(0), ...set(t),
      ...whileLt(t, t4, fourRows),
      ...whileLt(t, T, oneRow),
      ...bump(r, 1),
    ]),
  ];
  return { name: 'linearRows', params: 3, locals: L.types, body };
}

/** Shared prologue of the attention kernels: decode item i into t, h and its kv head's row info. */
function attnItem(p: number, i: number, L: { t: number; h: number; ri: number; heads: number; group: number }): Code {
  return [
    ...get(i), ...get(L.heads), ...ins.i32DivU, ...set(L.t),
    ...get(i), ...get(L.heads), ...ins.i32RemU, ...set(L.h),
    ...get(p), ...i32Load(4 * AttnParams.RowInfo), ...get(L.t), ...i32(4 * RowInfo.Size), ...ins.i32Mul, ...ins.i32Add, ...set(L.ri),
  ];
}

/** Byte offset of kv head (h / group) of row info `ri`'s cache, base field `field`. */
function headBase(ri: number, field: number, h: number, group: number): Code {
  return [...get(ri), ...i32Load(4 * field), ...get(h), ...get(group), ...ins.i32DivU, ...get(ri), ...i32Load(4 * RowInfo.HeadStride), ...ins.i32Mul, ...ins.i32Add];
}

/** scores[(t, h), s] = scale · q[t, h, :]·K[s, h / group, :] for s < context of row t. */
function attnScores(): KernelFunction {
  const [p, i0, i1] = [0, 1, 2];
  const L = new Locals(3);
  const { i, t, h, ri, heads, group, hb, kp, qp, sp, n, s, j } = L.named(I32, 'i', 't', 'h', 'ri', 'heads', 'group', 'hb', 'kp', 'qp', 'sp', 'n', 's', 'j');
  const accV = L.add(V128);
  const scale = L.add(F32);
  const P = AttnParams;
  const body: Code = [
    ...param(p, P.Heads, heads), ...param(p, P.Group, group), ...param(p, P.HeadBytes, hb),
    ...get(p), ...f32Load(4 * P.Scale), ...set(scale),
    ...get(i0), ...set(i),
    ...whileLt(i, i1, [
      ...attnItem(p, i, { t, h, ri, heads, group }),
      ...headBase(ri, RowInfo.KBase, h, group), ...set(kp),
      ...get(ri), ...i32Load(4 * RowInfo.Context), ...set(n),
      ...get(p), ...i32Load(4 * P.Q), ...get(t), ...get(p), ...i32Load(4 * P.QStride), ...ins.i32Mul, ...ins.i32Add, ...get(h), ...get(hb), ...ins.i32Mul, ...ins.i32Add, ...set(qp),
      ...get(p), ...i32Load(4 * P.Scores), ...get(i), ...get(p), ...i32Load(4 * P.ScoreStride), ...ins.i32Mul, ...ins.i32Add, ...set(sp),
      ...i32(0), ...set(s),
      ...whileLt(s, n, [
        ...zeroV, ...set(accV), ...i32(0), ...set(j),
        ...whileLt(j, hb, [
          ...get(accV), ...get(qp), ...get(j), ...ins.i32Add, ...v128Load(), ...get(kp), ...get(j), ...ins.i32Add, ...v128Load(), ...ins.f32x4Mul, ...ins.f32x4Add, ...set(accV),
          ...bump(j, 16),
        ]),
        ...get(sp), ...hsum(accV), ...get(scale), ...ins.f32Mul, ...f32Store(),
        ...bump(sp, 4), ...add(kp, hb), ...set(kp), ...bump(s, 1),
      ]),
      ...bump(i, 1),
    ]),
  ];
  return { name: 'attnScores', params: 3, locals: L.types, body };
}

/** out[t, h, :] = Σ_s probs[(t, h), s]·V[s, h / group, :]. */
function attnValues(): KernelFunction {
  const [p, i0, i1] = [0, 1, 2];
  const L = new Locals(3);
  const { i, t, h, ri, heads, group, hb, vp, op, pp, n, s, j, a } = L.named(I32, 'i', 't', 'h', 'ri', 'heads', 'group', 'hb', 'vp', 'op', 'pp', 'n', 's', 'j', 'a');
  const pv = L.add(V128);
  const P = AttnParams;
  const body: Code = [
    ...param(p, P.Heads, heads), ...param(p, P.Group, group), ...param(p, P.HeadBytes, hb),
    ...get(i0), ...set(i),
    ...whileLt(i, i1, [
      ...attnItem(p, i, { t, h, ri, heads, group }),
      ...headBase(ri, RowInfo.VBase, h, group), ...set(vp),
      ...get(ri), ...i32Load(4 * RowInfo.Context), ...set(n),
      ...get(p), ...i32Load(4 * P.Out), ...get(t), ...get(p), ...i32Load(4 * P.OutStride), ...ins.i32Mul, ...ins.i32Add, ...get(h), ...get(hb), ...ins.i32Mul, ...ins.i32Add, ...set(op),
      ...get(p), ...i32Load(4 * P.Scores), ...get(i), ...get(p), ...i32Load(4 * P.ScoreStride), ...ins.i32Mul, ...ins.i32Add, ...set(pp),
      ...i32(0), ...set(j),
      ...whileLt(j, hb, [...get(op), ...get(j), ...ins.i32Add, ...zeroV, ...v128Store(), ...bump(j, 16)]),
      ...i32(0), ...set(s),
      ...whileLt(s, n, [
        ...get(pp), ...f32Load(), ...ins.f32x4Splat, ...set(pv),
        ...i32(0), ...set(j),
        ...whileLt(j, hb, [
          ...get(op), ...get(j), ...ins.i32Add, ...set(a),
          ...get(a), ...get(a), ...v128Load(), ...get(pv), ...get(vp), ...get(j), ...ins.i32Add, ...v128Load(), ...ins.f32x4Mul, ...ins.f32x4Add, ...v128Store(),
          ...bump(j, 16),
        ]),
        ...bump(pp, 4), ...add(vp, hb), ...set(vp), ...bump(s, 1),
      ]),
      ...bump(i, 1),
    ]),
  ];
  return { name: 'attnValues', params: 3, locals: L.types, body };
}

/**
 * exp(x) for x ≤ 0 (softmax after max subtraction), left on the stack from f32 local `x`: 2^n·e^r
 * with n = round(x·log2 e), r = x − n·ln 2 (two-part ln 2), e^r by its degree-6 Taylor polynomial
 * (|r| ≤ 0.35: relative error ≤ 2e-7). x is clamped to −88 first (local `x` changes), where 2^n
 * bottoms out at the all-zero bit pattern: exp of anything below is 0 (true value < 1e-38).
 */
function expNonPositive(x: number, n: number, r: number): Code {
  const poly = [1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1];
  return [
    ...get(x), ...f32(-88), ...ins.f32Max, ...set(x),
    ...get(x), ...f32(Math.LOG2E), ...ins.f32Mul, ...ins.f32Nearest, ...set(n),
    ...get(x), ...get(n), ...f32(0.693145751953125), ...ins.f32Mul, ...ins.f32Sub, ...get(n), ...f32(1.428606765330187e-6), ...ins.f32Mul, ...ins.f32Sub, ...set(r),
    // Horner: ((((c6·r + c5)·r + …)·r + 1)
    ...f32(poly[0]!), ...poly.slice(1).flatMap((c) => [...get(r), ...ins.f32Mul, ...f32(c), ...ins.f32Add]),
    ...get(n), ...ins.i32TruncF32S, ...i32(127), ...ins.i32Add, ...i32(23), ...ins.i32Shl, ...ins.f32ReinterpretI32, ...ins.f32Mul,
  ];
}

/**
 * Scores, softmax and values of one (t, h) per item, all in one pass per item: scores are kept in the
 * item's scratch row, exponentiated in place against their max, values accumulated unnormalised and
 * scaled by 1/Σ at the end. Params as attnScores/attnValues (AttnParams).
 */
function attention(): KernelFunction {
  const [p, i0, i1] = [0, 1, 2];
  const L = new Locals(3);
  const { i, t, h, ri, heads, group, hb, kp, vp, qp, sp, op, n, s, j, a } = L.named(I32, 'i', 't', 'h', 'ri', 'heads', 'group', 'hb', 'kp', 'vp', 'qp', 'sp', 'op', 'n', 's', 'j', 'a');
  const { accV, pv } = L.named(V128, 'accV', 'pv');
  const { scale, max, sum, e, x, en, er } = L.named(F32, 'scale', 'max', 'sum', 'e', 'x', 'en', 'er');
  const P = AttnParams;
  const rowPtr = (base: number, stride: number, index: number, mulBytes: number | undefined): Code => [
    ...get(p), ...i32Load(4 * base), ...get(index), ...get(p), ...i32Load(4 * stride), ...ins.i32Mul, ...ins.i32Add,
    ...(mulBytes === undefined ? [] : [...get(h), ...get(mulBytes), ...ins.i32Mul, ...ins.i32Add]),
  ];
  const body: Code = [
    ...param(p, P.Heads, heads), ...param(p, P.Group, group), ...param(p, P.HeadBytes, hb),
    ...get(p), ...f32Load(4 * P.Scale), ...set(scale),
    ...get(i0), ...set(i),
    ...whileLt(i, i1, [
      ...attnItem(p, i, { t, h, ri, heads, group }),
      ...headBase(ri, RowInfo.KBase, h, group), ...set(kp),
      ...headBase(ri, RowInfo.VBase, h, group), ...set(vp),
      ...get(ri), ...i32Load(4 * RowInfo.Context), ...set(n),
      ...rowPtr(P.Q, P.QStride, t, hb), ...set(qp),
      ...rowPtr(P.Out, P.OutStride, t, hb), ...set(op),
      ...rowPtr(P.Scores, P.ScoreStride, i, undefined), ...set(sp),
      // scores and their max
      ...f32(-Infinity), ...set(max), ...i32(0), ...set(s),
      ...whileLt(s, n, [
        ...zeroV, ...set(accV), ...i32(0), ...set(j),
        ...whileLt(j, hb, [
          ...get(accV), ...get(qp), ...get(j), ...ins.i32Add, ...v128Load(), ...get(kp), ...get(j), ...ins.i32Add, ...v128Load(), ...ins.f32x4Mul, ...ins.f32x4Add, ...set(accV),
          ...bump(j, 16),
        ]),
        ...hsum(accV), ...get(scale), ...ins.f32Mul, ...set(e),
        ...get(sp), ...get(s), ...i32(2), ...ins.i32Shl, ...ins.i32Add, ...get(e), ...f32Store(),
        ...get(max), ...get(e), ...ins.f32Max, ...set(max),
        ...add(kp, hb), ...set(kp), ...bump(s, 1),
      ]),
      // out = Σ exp(score − max)·V, then / Σ exp
      ...i32(0), ...set(j),
      ...whileLt(j, hb, [...get(op), ...get(j), ...ins.i32Add, ...zeroV, ...v128Store(), ...bump(j, 16)]),
      ...f32(0), ...set(sum), ...i32(0), ...set(s),
      ...whileLt(s, n, [
        ...get(sp), ...f32Load(), ...get(max), ...ins.f32Sub, ...set(x),
        ...expNonPositive(x, en, er), ...set(e),
        ...get(sum), ...get(e), ...ins.f32Add, ...set(sum),
        ...get(e), ...ins.f32x4Splat, ...set(pv),
        ...i32(0), ...set(j),
        ...whileLt(j, hb, [
          ...get(op), ...get(j), ...ins.i32Add, ...set(a),
          ...get(a), ...get(a), ...v128Load(), ...get(pv), ...get(vp), ...get(j), ...ins.i32Add, ...v128Load(), ...ins.f32x4Mul, ...ins.f32x4Add, ...v128Store(),
          ...bump(j, 16),
        ]),
        ...bump(sp, 4), ...add(vp, hb), ...set(vp), ...bump(s, 1),
      ]),
      ...f32(1), ...get(sum), ...ins.f32Div, ...ins.f32x4Splat, ...set(pv),
      ...i32(0), ...set(j),
      ...whileLt(j, hb, [
        ...get(op), ...get(j), ...ins.i32Add, ...set(a),
        ...get(a), ...get(a), ...v128Load(), ...get(pv), ...ins.f32x4Mul, ...v128Store(),
        ...bump(j, 16),
      ]),
      ...bump(i, 1),
    ]),
  ];
  return { name: 'attention', params: 3, locals: L.types, body };
}

/** The kernel module's bytes; `shared` must match the memory it will import. */
export function fusedModuleBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  return kernelModule([linearRows(), attnScores(), attnValues(), attention()], shared);
}

export type KernelFn = (params: number, start: number, end: number) => void;
