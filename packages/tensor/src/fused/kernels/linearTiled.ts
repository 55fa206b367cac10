import {
  bump,
  ifThen,
  get,
  hsum,
  i32,
  i32Load,
  ins,
  param,
  set,
  v128Load,
  whileLt,
  zeroV,
  Locals,
  floatAddr,
} from '../../wasm/asm.js';
import { F32, I32, V128, type Code, type KernelFunction } from '../../wasm/encode.js';
import { LinearParams } from './params.js';
import { storeMaybeAdd } from './linearRows.js';

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
export function linearTiled(MT: number, NR: number, name = 'linearTiled', fma = false, unroll = 1): KernelFunction {
  const [p, r0, r1] = [0, 1, 2];
  const L = new Locals(3);
  const { w, x, y, kb, k16, T, xs, ys, acc, r, t, j, xt, yt, yp, wr } = L.named(
    I32,
    'w',
    'x',
    'y',
    'kb',
    'k16',
    'T',
    'xs',
    'ys',
    'acc',
    'r',
    't',
    'j',
    'xt',
    'yt',
    'yp',
    'wr',
  );
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
        ...get(xp[i]!),
        ...v128Load(offset),
        ...set(xv),
        ...Array.from({ length: nr }, (_, c) =>
          fma
            ? [...get(xv), ...get(wv[c]!), ...get(accs[i]![c]!), ...ins.f32x4RelaxedMadd, ...set(accs[i]![c]!)]
            : [
                ...get(accs[i]![c]!),
                ...get(xv),
                ...get(wv[c]!),
                ...ins.f32x4Mul,
                ...ins.f32x4Add,
                ...set(accs[i]![c]!),
              ],
        ).flat(),
      ]).flat(),
    ];
    const bumpAll = (bytes: number): Code => [...xp.slice(0, mt), ...wp.slice(0, nr)].flatMap((v) => bump(v, bytes));
    return [
      ...Array.from({ length: mt }, (_, i) =>
        i === 0 ? [...get(xt), ...set(xp[0]!)] : [...get(xp[i - 1]!), ...get(xs), ...ins.i32Add, ...set(xp[i]!)],
      ).flat(),
      ...Array.from({ length: nr }, (_, c) =>
        c === 0 ? [...get(wr), ...set(wp[0]!)] : [...get(wp[c - 1]!), ...get(kb), ...ins.i32Add, ...set(wp[c]!)],
      ).flat(),
      ...accs.slice(0, mt).flatMap((row) => row.slice(0, nr).flatMap((a) => [...zeroV, ...set(a)])),
      ...i32(0),
      ...set(j),
      ...whileLt(j, k16, [
        ...Array.from({ length: unroll }, (_, u) => step(16 * u)).flat(),
        ...bumpAll(16 * unroll),
        ...bump(j, 16 * unroll),
      ]),
      ...whileLt(j, kb, [...step(0), ...bumpAll(16), ...bump(j, 16)]),
      ...Array.from({ length: mt }, (_, i) =>
        Array.from({ length: nr }, (_, c) => [
          ...hsum(accs[i]![c]!),
          ...set(s),
          ...get(yt),
          ...get(ys),
          ...i32(i),
          ...ins.i32Mul,
          ...ins.i32Add,
          ...i32(4 * c),
          ...ins.i32Add,
          ...set(yp),
          ...storeMaybeAdd(yp, s, acc),
        ]).flat(),
      ).flat(),
    ];
  };
  /** All input rows against the weight rows at r (nr of them): MT at a time, then one at a time. */
  const rowsOf = (nr: number): Code => [
    ...get(w),
    ...get(r),
    ...get(kb),
    ...ins.i32Mul,
    ...ins.i32Add,
    ...set(wr),
    ...get(x),
    ...set(xt),
    ...floatAddr(y, r),
    ...set(yt),
    ...i32(0),
    ...set(t),
    ...whileLt(t, tEnd, [
      ...tile(MT, nr),
      ...bump(t, MT),
      ...get(xt),
      ...get(xs),
      ...i32(MT),
      ...ins.i32Mul,
      ...ins.i32Add,
      ...set(xt),
      ...get(yt),
      ...get(ys),
      ...i32(MT),
      ...ins.i32Mul,
      ...ins.i32Add,
      ...set(yt),
    ]),
    // fewer than MT rows left: one tile of each smaller height that fits (each runs at most once)
    ...Array.from({ length: MT - 1 }, (_, i) => MT - 1 - i).flatMap((m) => [
      ...get(T),
      ...get(t),
      ...ins.i32Sub,
      ...i32(m),
      ...ins.i32GeU, // if (T − t ≥ m)
      ...ifThen([
        ...tile(m, nr),
        ...bump(t, m),
        ...get(xt),
        ...get(xs),
        ...i32(m),
        ...ins.i32Mul,
        ...ins.i32Add,
        ...set(xt),
        ...get(yt),
        ...get(ys),
        ...i32(m),
        ...ins.i32Mul,
        ...ins.i32Add,
        ...set(yt),
      ]),
    ]),
  ];
  const rEnd = L.add(I32);
  const body: Code = [
    ...param(p, P.W, w),
    ...param(p, P.X, x),
    ...param(p, P.Y, y),
    ...param(p, P.T, T),
    ...param(p, P.XStride, xs),
    ...param(p, P.YStride, ys),
    ...param(p, P.Accumulate, acc),
    ...get(p),
    ...i32Load(4 * P.K),
    ...i32(2),
    ...ins.i32Shl,
    ...set(kb),
    ...get(kb),
    ...i32(~(16 * unroll - 1)),
    ...ins.i32And,
    ...set(k16), // whole unrolled blocks
    // tEnd = T rounded down to a multiple of MT (T < MT: 0)
    ...get(T),
    ...get(T),
    ...i32(MT),
    ...ins.i32RemU,
    ...ins.i32Sub,
    ...set(tEnd),
    ...get(r1),
    ...get(r1),
    ...get(r0),
    ...ins.i32Sub,
    ...i32(NR),
    ...ins.i32RemU,
    ...ins.i32Sub,
    ...set(rEnd),
    ...get(r0),
    ...set(r),
    ...whileLt(r, rEnd, [...rowsOf(NR), ...bump(r, NR)]),
    ...Array.from({ length: NR - 1 }, (_, i) => NR - 1 - i).flatMap((n) => [
      ...get(r1),
      ...get(r),
      ...ins.i32Sub,
      ...i32(n),
      ...ins.i32GeU,
      ...ifThen([...rowsOf(n), ...bump(r, n)]),
    ]),
  ];
  return { name, params: 3, locals: L.types, body };
}

/** Tile variants for tuning (tooling): linearTiled with other MT×NR. */
export function linearTiledVariant(MT: number, NR: number, fma = false, unroll = 1): KernelFunction {
  return linearTiled(MT, NR, `linearTiled_${MT}x${NR}${fma ? 'f' : ''}u${unroll}`, fma, unroll);
}
