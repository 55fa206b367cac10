import {
  F32, I32, V128, add, bump, f32, f32Load, f32Store, get, hsum, hsum4, i32, i32Load, ins, kernelModule, lane, param, set, v128Load, v128Store, whileLt, zeroV,
  type Code, type KernelFunction,
} from './wasmAsm.js';

/**
 * The fused decode kernels, wasm SIMD emitted from TypeScript. Every kernel is
 * `fn(params, start, end)`: `params` is the byte offset of an i32 block in memory (layouts below,
 * all pointers are byte offsets, all data float32), and [start, end) is the range of work items a
 * thread claimed, so one generic worker loop runs any of them. Row widths must be multiples of 4.
 */
export const KERNEL_NAMES = ['linearRows', 'attnScores', 'attnValues', 'attention', 'linearTiled', 'siluMul', 'rmsNorm'] as const;
export type KernelName = (typeof KERNEL_NAMES)[number];

/** linearRows params: y[t, r] (+)= Σ_j w[r, j]·x[t, j] for weight rows r in [start, end), t < T. */
export const LinearParams = { W: 0, X: 1, Y: 2, K: 3, T: 4, XStride: 5, YStride: 6, Accumulate: 7, Size: 8 } as const;
/** siluMul params: gate[t, i] ← silu(gate[t, i])·up[t, i], i < N, for rows t in [start, end); up = gate + UpOffset bytes. */
export const SiluParams = { Gate: 0, UpOffset: 1, N: 2, RowStride: 3, Size: 4 } as const;
/** rmsNorm params: out[t, :] = x[t, :] / sqrt(mean(x[t, :]²) + Eps) · w for rows t in [start, end); Eps is an f32. */
export const NormParams = { X: 0, XStride: 1, Out: 2, OutStride: 3, W: 4, N: 5, Eps: 6, Size: 7 } as const;
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

/**
 * Register tiles of linearTiled (MT input rows × NR weight rows), measured in CPU time on this
 * machine's V8 at K = 576/1536, T = 64 (GFLOP/s per core): with relaxed-SIMD f32x4.relaxed_madd
 * (one vfmadd231ps, no temporary) 3×3 ≈ 45, 2×4 ≈ 41, 4×2 ≈ 40, 4×3 ≈ 21 (16 live xmm: V8 spills);
 * with f32x4.mul + add 3×2 ≈ 33, 4×2 ≈ 31, 3×3 ≈ 19 (spills), the 4×1 of linearRows ≈ 23. Unrolling
 * the K loop made it worse (TurboFan hoists the unrolled loads and spills: 4×3 unrolled 4× ≈ 24).
 */
export function tileFor(fma: boolean): { readonly MT: number; readonly NR: number } {
  return fma ? { MT: 3, NR: 3 } : { MT: 3, NR: 2 };
}

/**
 * y[t, r] (+)= Σ_j w[r, j]·x[t, j] as a register-tiled GEMM (same params as linearRows): for each
 * group of NR weight rows of [start, end) (kept in L1), every group of MT input rows (from L2) runs
 * one K loop with MT·NR independent f32x4 accumulators; per 4-float step it loads MT + NR vectors for
 * MT·NR multiply-adds (linearRows: 5 loads for 4, one dependency chain per row), as one fused
 * multiply-add each with `fma` (relaxed SIMD), else a mul and an add. Leftover input rows and weight
 * rows run narrower tiles of the same code. Each accumulator sums lanes in the same order whatever the tile, so y does not depend
 * on how rows are split between threads.
 */
function linearTiled(MT: number, NR: number, name = 'linearTiled', fma = false, unroll = 1): KernelFunction {
  const [p, r0, r1] = [0, 1, 2];
  const L = new Locals(3);
  const { w, x, y, kb, k16, T, xs, ys, acc, r, t, j, xt, yt, yp, wr } = L.named(I32, 'w', 'x', 'y', 'kb', 'k16', 'T', 'xs', 'ys', 'acc', 'r', 't', 'j', 'xt', 'yt', 'yp', 'wr');
  const xp = Array.from({ length: MT }, () => L.add(I32));
  const wp = Array.from({ length: NR }, () => L.add(I32));
  const accs = Array.from({ length: MT }, () => Array.from({ length: NR }, () => L.add(V128)));
  const wv = Array.from({ length: NR }, () => L.add(V128));
  const xv = L.add(V128);
  const s = L.add(F32);
  const P = LinearParams;
  const tEnd = L.add(I32);

  /** One mt×nr tile at input row t (x pointer xt) and weight row r (pointer wr); y row pointer yt. */
  const tile = (mt: number, nr: number): Code => {
    const step = (offset: number): Code => [
      ...Array.from({ length: nr }, (_, c) => [...get(wp[c]!), ...v128Load(offset), ...set(wv[c]!)]).flat(),
      ...Array.from({ length: mt }, (_, i) => [
        ...get(xp[i]!), ...v128Load(offset), ...set(xv),
        ...Array.from({ length: nr }, (_, c) => (fma
          ? [...get(xv), ...get(wv[c]!), ...get(accs[i]![c]!), ...ins.f32x4RelaxedMadd, ...set(accs[i]![c]!)]
          : [...get(accs[i]![c]!), ...get(xv), ...get(wv[c]!), ...ins.f32x4Mul, ...ins.f32x4Add, ...set(accs[i]![c]!)])).flat(),
      ]).flat(),
    ];
    const bumpAll = (bytes: number): Code => [...xp.slice(0, mt), ...wp.slice(0, nr)].flatMap((v) => bump(v, bytes));
    return [
      ...Array.from({ length: mt }, (_, i) => (i === 0 ? [...get(xt), ...set(xp[0]!)] : [...get(xp[i - 1]!), ...get(xs), ...ins.i32Add, ...set(xp[i]!)])).flat(),
      ...Array.from({ length: nr }, (_, c) => (c === 0 ? [...get(wr), ...set(wp[0]!)] : [...get(wp[c - 1]!), ...get(kb), ...ins.i32Add, ...set(wp[c]!)])).flat(),
      ...accs.slice(0, mt).flatMap((row) => row.slice(0, nr).flatMap((a) => [...zeroV, ...set(a)])),
      ...i32(0), ...set(j),
      ...whileLt(j, k16, [...Array.from({ length: unroll }, (_, u) => step(16 * u)).flat(), ...bumpAll(16 * unroll), ...bump(j, 16 * unroll)]),
      ...whileLt(j, kb, [...step(0), ...bumpAll(16), ...bump(j, 16)]),
      ...Array.from({ length: mt }, (_, i) => Array.from({ length: nr }, (_, c) => [
        ...hsum(accs[i]![c]!), ...set(s),
        ...get(yt), ...get(ys), ...i32(i), ...ins.i32Mul, ...ins.i32Add, ...i32(4 * c), ...ins.i32Add, ...set(yp),
        ...storeMaybeAdd(yp, s, acc),
      ]).flat()).flat(),
    ];
  };
  /** All input rows against the weight rows at r (nr of them): MT at a time, then one at a time. */
  const rowsOf = (nr: number): Code => [
    ...get(w), ...get(r), ...get(kb), ...ins.i32Mul, ...ins.i32Add, ...set(wr),
    ...get(x), ...set(xt), ...get(y), ...get(r), ...i32(2), ...ins.i32Shl, ...ins.i32Add, ...set(yt), ...i32(0), ...set(t),
    ...whileLt(t, tEnd, [
      ...tile(MT, nr),
      ...bump(t, MT),
      ...get(xt), ...get(xs), ...i32(MT), ...ins.i32Mul, ...ins.i32Add, ...set(xt),
      ...get(yt), ...get(ys), ...i32(MT), ...ins.i32Mul, ...ins.i32Add, ...set(yt),
    ]),
    // fewer than MT rows left: one tile of each smaller height that fits (each runs at most once)
    ...Array.from({ length: MT - 1 }, (_, i) => MT - 1 - i).flatMap((m) => [
      ...get(T), ...get(t), ...ins.i32Sub, ...i32(m), ...ins.i32GeU, 0x04, 0x40, // if (T − t ≥ m)
      ...tile(m, nr), ...bump(t, m),
      ...get(xt), ...get(xs), ...i32(m), ...ins.i32Mul, ...ins.i32Add, ...set(xt),
      ...get(yt), ...get(ys), ...i32(m), ...ins.i32Mul, ...ins.i32Add, ...set(yt),
      0x0b,
    ]),
  ];
  const rEnd = L.add(I32);
  const body: Code = [
    ...param(p, P.W, w), ...param(p, P.X, x), ...param(p, P.Y, y), ...param(p, P.T, T),
    ...param(p, P.XStride, xs), ...param(p, P.YStride, ys), ...param(p, P.Accumulate, acc),
    ...get(p), ...i32Load(4 * P.K), ...i32(2), ...ins.i32Shl, ...set(kb),
    ...get(kb), ...i32(~(16 * unroll - 1)), 0x71, ...set(k16), // i32.and: whole unrolled blocks
    // tEnd = T rounded down to a multiple of MT (T < MT: 0)
    ...get(T), ...get(T), ...i32(MT), ...ins.i32RemU, ...ins.i32Sub, ...set(tEnd),
    ...get(r1), ...get(r1), ...get(r0), ...ins.i32Sub, ...i32(NR), ...ins.i32RemU, ...ins.i32Sub, ...set(rEnd),
    ...get(r0), ...set(r),
    ...whileLt(r, rEnd, [...rowsOf(NR), ...bump(r, NR)]),
    ...Array.from({ length: NR - 1 }, (_, i) => NR - 1 - i).flatMap((n) => [
      ...get(r1), ...get(r), ...ins.i32Sub, ...i32(n), ...ins.i32GeU, 0x04, 0x40, ...rowsOf(n), ...bump(r, n), 0x0b,
    ]),
  ];
  return { name, params: 3, locals: L.types, body };
}

/** Tile variants for tuning (tooling): linearTiled with other MT×NR. */
export function linearTiledVariant(MT: number, NR: number, fma = false, unroll = 1): KernelFunction {
  return linearTiled(MT, NR, `linearTiled_${MT}x${NR}${fma ? 'f' : ''}u${unroll}`, fma, unroll);
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
 * scaled by 1/Σ at the end. Params as attnScores/attnValues (AttnParams). Four positions at a time:
 * four independent dot products per q load for the scores, and out[j] += Σ of four e·V[s, j] per
 * load/store of out for the values (the one-position loops take the remainder).
 */
function attention(fma = false): KernelFunction {
  const [p, i0, i1] = [0, 1, 2];
  const L = new Locals(3);
  const { i, t, h, ri, heads, group, hb, kp, vp, qp, sp, op, n, n4, s, j, a, k1, k2, k3 } = L.named(I32, 'i', 't', 'h', 'ri', 'heads', 'group', 'hb', 'kp', 'vp', 'qp', 'sp', 'op', 'n', 'n4', 's', 'j', 'a', 'k1', 'k2', 'k3');
  const { accV, pv, qv, c1, c2, c3, p1, p2, p3, xv, nv, rv, sumV, maxV } = L.named(V128, 'accV', 'pv', 'qv', 'c1', 'c2', 'c3', 'p1', 'p2', 'p3', 'xv', 'nv', 'rv', 'sumV', 'maxV');
  const { scale, max, sum, e, x, en, er } = L.named(F32, 'scale', 'max', 'sum', 'e', 'x', 'en', 'er');
  const P = AttnParams;
  const rowPtr = (base: number, stride: number, index: number, mulBytes: number | undefined): Code => [
    ...get(p), ...i32Load(4 * base), ...get(index), ...get(p), ...i32Load(4 * stride), ...ins.i32Mul, ...ins.i32Add,
    ...(mulBytes === undefined ? [] : [...get(h), ...get(mulBytes), ...ins.i32Mul, ...ins.i32Add]),
  ];
  const scoreAt = (index: Code): Code => [...get(sp), ...index, ...i32(2), ...ins.i32Shl, ...ins.i32Add];
  const keep = (acc: number, sOffset: number): Code => [
    ...hsum(acc), ...get(scale), ...ins.f32Mul, ...set(e),
    ...scoreAt([...get(s), ...(sOffset ? [...i32(sOffset), ...ins.i32Add] : [])]), ...get(e), ...f32Store(),
    ...get(max), ...get(e), ...ins.f32Max, ...set(max),
  ];
  const fmaInto = (acc: number, left: Code, right: Code): Code => (fma
    ? [...left, ...right, ...get(acc), ...ins.f32x4RelaxedMadd, ...set(acc)]
    : [...get(acc), ...left, ...right, ...ins.f32x4Mul, ...ins.f32x4Add, ...set(acc)]);
  const at = (ptr: number): Code => [...get(ptr), ...get(j), ...ins.i32Add, ...v128Load()];
  const splatScore = (offset: number, into: number): Code => [...get(sp), ...get(s), ...i32(2), ...ins.i32Shl, ...ins.i32Add, ...f32Load(4 * offset), ...ins.f32x4Splat, ...set(into)];
  const body: Code = [
    ...param(p, P.Heads, heads), ...param(p, P.Group, group), ...param(p, P.HeadBytes, hb),
    ...get(p), ...f32Load(4 * P.Scale), ...set(scale),
    ...get(i0), ...set(i),
    ...whileLt(i, i1, [
      ...attnItem(p, i, { t, h, ri, heads, group }),
      ...headBase(ri, RowInfo.KBase, h, group), ...set(kp),
      ...headBase(ri, RowInfo.VBase, h, group), ...set(vp),
      ...get(ri), ...i32Load(4 * RowInfo.Context), ...set(n),
      ...get(n), ...i32(~3), 0x71, ...set(n4), // i32.and
      ...rowPtr(P.Q, P.QStride, t, hb), ...set(qp),
      ...rowPtr(P.Out, P.OutStride, t, hb), ...set(op),
      ...rowPtr(P.Scores, P.ScoreStride, i, undefined), ...set(sp),
      // scores and their max, four keys per q load
      ...f32(-Infinity), ...set(max), ...f32(-Infinity), ...ins.f32x4Splat, ...set(maxV), ...i32(0), ...set(s),
      ...whileLt(s, n4, [
        ...add(kp, hb), ...set(k1), ...add(k1, hb), ...set(k2), ...add(k2, hb), ...set(k3),
        ...[accV, c1, c2, c3].flatMap((v) => [...zeroV, ...set(v)]), ...i32(0), ...set(j),
        ...whileLt(j, hb, [
          ...at(qp), ...set(qv),
          ...fmaInto(accV, get(qv), at(kp)), ...fmaInto(c1, get(qv), at(k1)), ...fmaInto(c2, get(qv), at(k2)), ...fmaInto(c3, get(qv), at(k3)),
          ...bump(j, 16),
        ]),
        // the four sums at once (two shuffle rounds), scaled, stored as one vector, lane-wise max
        ...scoreAt(get(s)), ...hsum4(accV, c1, c2, c3, p1, p2), ...get(scale), ...ins.f32x4Splat, ...ins.f32x4Mul, ...set(pv), ...get(pv), ...v128Store(),
        ...get(maxV), ...get(pv), ...ins.f32x4Max, ...set(maxV),
        ...add(k3, hb), ...set(kp), ...bump(s, 4),
      ]),
      ...[0, 1, 2, 3].flatMap((l) => [...get(max), ...get(maxV), ...lane(l), ...ins.f32Max, ...set(max)]),
      ...whileLt(s, n, [
        ...zeroV, ...set(accV), ...i32(0), ...set(j),
        ...whileLt(j, hb, [...fmaInto(accV, at(qp), at(kp)), ...bump(j, 16)]),
        ...keep(accV, 0),
        ...add(kp, hb), ...set(kp), ...bump(s, 1),
      ]),
      // e = exp(score − max) in place, four at a time, and Σ e
      ...zeroV, ...set(sumV), ...i32(0), ...set(s),
      ...whileLt(s, n4, [
        ...scoreAt(get(s)), ...set(a),
        ...get(a),
        ...get(a), ...v128Load(), ...get(max), ...ins.f32x4Splat, ...ins.f32x4Sub, ...expNonPositiveV(xv, nv, rv), ...set(pv),
        ...get(pv), ...v128Store(),
        ...get(sumV), ...get(pv), ...ins.f32x4Add, ...set(sumV),
        ...bump(s, 4),
      ]),
      ...hsum(sumV), ...set(sum),
      ...whileLt(s, n, [
        ...scoreAt(get(s)), ...f32Load(), ...get(max), ...ins.f32Sub, ...set(x),
        ...expNonPositive(x, en, er), ...set(e),
        ...scoreAt(get(s)), ...get(e), ...f32Store(),
        ...get(sum), ...get(e), ...ins.f32Add, ...set(sum),
        ...bump(s, 1),
      ]),
      // out = Σ e·V, four positions per load/store of out, then / Σ e
      ...i32(0), ...set(j),
      ...whileLt(j, hb, [...get(op), ...get(j), ...ins.i32Add, ...zeroV, ...v128Store(), ...bump(j, 16)]),
      ...i32(0), ...set(s),
      ...whileLt(s, n4, [
        ...splatScore(0, pv), ...splatScore(1, p1), ...splatScore(2, p2), ...splatScore(3, p3),
        ...add(vp, hb), ...set(k1), ...add(k1, hb), ...set(k2), ...add(k2, hb), ...set(k3),
        ...i32(0), ...set(j),
        ...whileLt(j, hb, [
          ...get(op), ...get(j), ...ins.i32Add, ...set(a),
          ...get(a),
          ...(fma
            ? [...get(pv), ...at(vp), ...get(p1), ...at(k1), ...get(p2), ...at(k2), ...get(p3), ...at(k3), ...get(a), ...v128Load(),
              ...ins.f32x4RelaxedMadd, ...ins.f32x4RelaxedMadd, ...ins.f32x4RelaxedMadd, ...ins.f32x4RelaxedMadd] // p0·V0 + (p1·V1 + (p2·V2 + (p3·V3 + out)))
            : [...get(a), ...v128Load(),
              ...get(pv), ...at(vp), ...ins.f32x4Mul, ...get(p1), ...at(k1), ...ins.f32x4Mul, ...ins.f32x4Add,
              ...get(p2), ...at(k2), ...ins.f32x4Mul, ...get(p3), ...at(k3), ...ins.f32x4Mul, ...ins.f32x4Add,
              ...ins.f32x4Add, ...ins.f32x4Add]),
          ...v128Store(),
          ...bump(j, 16),
        ]),
        ...add(k3, hb), ...set(vp), ...bump(s, 4),
      ]),
      ...whileLt(s, n, [
        ...splatScore(0, pv),
        ...i32(0), ...set(j),
        ...whileLt(j, hb, [
          ...get(op), ...get(j), ...ins.i32Add, ...set(a),
          ...get(a), ...get(a), ...v128Load(), ...get(pv), ...at(vp), ...ins.f32x4Mul, ...ins.f32x4Add, ...v128Store(),
          ...bump(j, 16),
        ]),
        ...add(vp, hb), ...set(vp), ...bump(s, 1),
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

/** The f32x4 splat of a constant. */
const splatF = (v: number): Code => [...f32(v), ...ins.f32x4Splat];

/**
 * exp(x) lane-wise for x ≤ 0 on the stack → stack, as expNonPositive (same constants, same error)
 * with f32x4 ops; `x`, `n`, `r` are v128 scratch locals.
 */
function expNonPositiveV(x: number, n: number, r: number): Code {
  const poly = [1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1];
  return [
    ...splatF(-88), ...ins.f32x4Max, ...set(x),
    ...get(x), ...splatF(Math.LOG2E), ...ins.f32x4Mul, ...ins.f32x4Nearest, ...set(n),
    ...get(x), ...get(n), ...splatF(0.693145751953125), ...ins.f32x4Mul, ...ins.f32x4Sub, ...get(n), ...splatF(1.428606765330187e-6), ...ins.f32x4Mul, ...ins.f32x4Sub, ...set(r),
    ...splatF(poly[0]!), ...poly.slice(1).flatMap((c) => [...get(r), ...ins.f32x4Mul, ...splatF(c), ...ins.f32x4Add]),
    ...get(n), ...ins.i32x4TruncSatF32x4S, ...i32(127), ...ins.i32x4Splat, ...ins.i32x4Add, ...i32(23), ...ins.i32x4Shl, ...ins.f32x4Mul,
  ];
}

/** SiLU(gate)·up per row, four lanes at a time: σ(g) = 1/(1 + e) for g ≥ 0, e/(1 + e) below, e = exp(−|g|). */
function siluMul(): KernelFunction {
  const [p, r0, r1] = [0, 1, 2];
  const L = new Locals(3);
  const { r, g, uo, nb, rs, j, a } = L.named(I32, 'r', 'g', 'uo', 'nb', 'rs', 'j', 'a');
  const { gv, ev, x, n, rr } = L.named(V128, 'gv', 'ev', 'x', 'n', 'rr');
  const P = SiluParams;
  const body: Code = [
    ...param(p, P.UpOffset, uo), ...param(p, P.RowStride, rs),
    ...get(p), ...i32Load(4 * P.N), ...i32(2), ...ins.i32Shl, ...set(nb),
    ...get(r0), ...set(r),
    ...whileLt(r, r1, [
      ...get(p), ...i32Load(4 * P.Gate), ...get(r), ...get(rs), ...ins.i32Mul, ...ins.i32Add, ...set(g),
      ...i32(0), ...set(j),
      ...whileLt(j, nb, [
        ...add(g, j), ...set(a),
        ...get(a), ...v128Load(), ...set(gv),
        ...get(gv), ...ins.f32x4Abs, ...ins.f32x4Neg, ...expNonPositiveV(x, n, rr), ...set(ev),
        ...get(a),
        // g · (g ≥ 0 ? 1 : e) / (1 + e) · up
        ...get(gv), ...splatF(1), ...get(ev), ...get(gv), ...zeroV, ...ins.f32x4Ge, ...ins.v128Bitselect, ...ins.f32x4Mul,
        ...splatF(1), ...get(ev), ...ins.f32x4Add, ...ins.f32x4Div,
        ...get(a), ...get(uo), ...ins.i32Add, ...v128Load(), ...ins.f32x4Mul,
        ...v128Store(),
        ...bump(j, 16),
      ]),
      ...bump(r, 1),
    ]),
  ];
  return { name: 'siluMul', params: 3, locals: L.types, body };
}

/** RMSNorm per row, four lanes at a time (float32 sum of squares in four lanes). */
function rmsNorm(): KernelFunction {
  const [p, r0, r1] = [0, 1, 2];
  const L = new Locals(3);
  const { r, xp, op, w, nb, j } = L.named(I32, 'r', 'xp', 'op', 'w', 'nb', 'j');
  const { ss, v, sc } = L.named(V128, 'ss', 'v', 'sc');
  const P = NormParams;
  const rowPtr = (base: number, stride: number): Code => [...get(p), ...i32Load(4 * base), ...get(r), ...get(p), ...i32Load(4 * stride), ...ins.i32Mul, ...ins.i32Add];
  const body: Code = [
    ...param(p, P.W, w),
    ...get(p), ...i32Load(4 * P.N), ...i32(2), ...ins.i32Shl, ...set(nb),
    ...get(r0), ...set(r),
    ...whileLt(r, r1, [
      ...rowPtr(P.X, P.XStride), ...set(xp), ...rowPtr(P.Out, P.OutStride), ...set(op),
      ...zeroV, ...set(ss), ...i32(0), ...set(j),
      ...whileLt(j, nb, [...get(xp), ...get(j), ...ins.i32Add, ...v128Load(), ...set(v), ...get(ss), ...get(v), ...get(v), ...ins.f32x4Mul, ...ins.f32x4Add, ...set(ss), ...bump(j, 16)]),
      // scale = 1 / sqrt(Σ / n + eps)
      ...f32(1), ...hsum(ss), ...get(p), ...i32Load(4 * P.N), 0xb3 /* f32.convert_i32_u */, ...ins.f32Div, ...get(p), ...f32Load(4 * P.Eps), ...ins.f32Add, ...ins.f32Sqrt, ...ins.f32Div,
      ...ins.f32x4Splat, ...set(sc),
      ...i32(0), ...set(j),
      ...whileLt(j, nb, [
        ...get(op), ...get(j), ...ins.i32Add,
        ...get(xp), ...get(j), ...ins.i32Add, ...v128Load(), ...get(sc), ...ins.f32x4Mul, ...get(w), ...get(j), ...ins.i32Add, ...v128Load(), ...ins.f32x4Mul,
        ...v128Store(),
        ...bump(j, 16),
      ]),
      ...bump(r, 1),
    ]),
  ];
  return { name: 'rmsNorm', params: 3, locals: L.types, body };
}

/**
 * The kernel module's bytes; `shared` must match the memory it will import; `fma`: linearTiled uses
 * relaxed-SIMD fused multiply-adds (the module then needs relaxed SIMD to validate).
 */
export function fusedModuleBytes(shared: boolean, fma = false): Uint8Array<ArrayBuffer> {
  const { MT, NR } = tileFor(fma);
  return kernelModule([linearRows(), attnScores(), attnValues(), attention(fma), linearTiled(MT, NR, 'linearTiled', fma), siluMul(), rmsNorm()], shared);
}

/** A tiny module using f32x4.relaxed_madd: validates only where relaxed SIMD is on. */
export function relaxedSimdProbe(): Uint8Array<ArrayBuffer> {
  return kernelModule([{ name: 'probe', params: 0, locals: [V128], body: [...zeroV, ...zeroV, ...zeroV, ...ins.f32x4RelaxedMadd, ...set(0)] }], false);
}

export type KernelFn = (params: number, start: number, end: number) => void;
