import {
  bump,
  f32Load,
  f32Store,
  get,
  i32,
  i32Load,
  ifThen,
  ins,
  lane,
  param,
  set,
  v128Load,
  v128Load32Splat,
  v128Store,
  whileLt,
  zeroV,
  Locals,
} from '../../wasm/asm.js';
import { F32, I32, V128, type Code, type KernelFunction } from '../../wasm/encode.js';
import { transpose4 } from './packPanels.js';
import { LinearParams } from './params.js';

/**
 * y[t, r] (+)= Σ_k w[r, k]·x[t, k] in outer-product form over x packed by packPanels into panels of
 * NC = 4·NV tokens ([panel][k][NC], the last panel's missing tokens repeat its last one): for each
 * group of MR weight rows of [start, end) (9 KB at K = 576: stays in L1) and each panel (from L2), one
 * K loop keeps MR·NV accumulators, each the 4 tokens of one weight row; per k it loads NV panel
 * vectors and MR broadcast weights for MR·NV multiply-adds (fused with `fma`: relaxed SIMD) and needs
 * no horizontal sum. Every y element is one sequential sum over k whatever the tile or thread split.
 * The K loop is unrolled `unroll`× with constant offsets, so pointers move once per unrolled block.
 * Weight rows left over after the last whole MR group run narrower tiles of the same code.
 *
 * A tuning variant, not on the fast path: measured in CPU time on this machine's V8 (Node 20,
 * relaxed-SIMD FMA, T = 256, K = 576/1536, one thread), 4×2 with no unrolling ≈ 43–44 GFLOP/s
 * against linearTiled 3×3's ≈ 44–46 and a 12-accumulator FMA loop with no loads ≈ 52 (the 128-bit
 * ceiling); 3×3 ≈ 41–44; 4×3, 5×2 and 6×2 ≈ 18–23 (V8 spills); unrolled 2–8× ≈ 24–33 (TurboFan
 * hoists the unrolled loads and spills). Its sums also run longer chains (one per output, not four
 * lanes), so errors are ≈ 3× linearTiled's. Kept for retuning on other engines.
 */
export function linearPacked(MR: number, NV: number, name = 'linearPacked', fma = false, unroll = 1): KernelFunction {
  if (unroll < 1 || (unroll & (unroll - 1)) !== 0)
    throw new RangeError(`linearPacked: unroll must be a power of 2, got ${unroll}`);
  const NC = 4 * NV;
  const [p, r0, r1] = [0, 1, 2];
  const L = new Locals(3);
  const { w, y, kb, kU, T, ys, acc, pk, r, rEnd, t0, xq, j, yr, yp, tok, ya } = L.named(
    I32,
    'w',
    'y',
    'kb',
    'kU',
    'T',
    'ys',
    'acc',
    'pk',
    'r',
    'rEnd',
    't0',
    'xq',
    'j',
    'yr',
    'yp',
    'tok',
    'ya',
  );
  const wp = Array.from({ length: MR }, () => L.add(I32));
  const accs = Array.from({ length: MR }, () => Array.from({ length: NV }, () => L.add(V128)));
  const xv = Array.from({ length: NV }, () => L.add(V128));
  const { sv, out, ab, abHi, cd, cdHi } = L.named(V128, 'sv', 'out', 'ab', 'abHi', 'cd', 'cdHi');
  const sc = L.add(F32); // one lane of an accumulator

  const madd = (a: number, c: number): Code =>
    fma
      ? [...get(sv), ...get(xv[c]!), ...get(a), ...ins.f32x4RelaxedMadd, ...set(a)]
      : [...get(a), ...get(sv), ...get(xv[c]!), ...ins.f32x4Mul, ...ins.f32x4Add, ...set(a)];
  /** One k step at `u` floats past the pointers: NV panel loads, then per row a broadcast and NV madds. */
  const step = (m: number, u: number): Code => [
    ...xv.flatMap((v, c) => [...get(xq), ...v128Load((u * NC + 4 * c) * 4), ...set(v)]),
    ...Array.from({ length: m }, (_, i) => [
      ...get(wp[i]!),
      ...v128Load32Splat(4 * u),
      ...set(sv),
      ...accs[i]!.flatMap((a, c) => madd(a, c)),
    ]).flat(),
  ];
  const bumpAll = (m: number, floats: number): Code => [
    ...wp.slice(0, m).flatMap((v) => bump(v, 4 * floats)),
    ...bump(xq, NC * 4 * floats),
    ...bump(j, 4 * floats),
  ];
  /** `local out` (+)= what y holds at yp, then stored there (v128). */
  const storeVector = (): Code => [
    ...get(yp),
    ...get(out),
    ...get(yp),
    ...v128Load(),
    ...ins.f32x4Add,
    ...get(out),
    ...get(acc),
    ...ins.select,
    ...v128Store(),
  ];
  /** yp = y row of token t0 + 4c + l at weight row r; leaves (token < T) on the stack. */
  const tokenRow = (c: number, l: number): Code => [
    ...get(t0),
    ...i32(4 * c + l),
    ...ins.i32Add,
    ...set(tok),
    ...get(yr),
    ...get(tok),
    ...get(ys),
    ...ins.i32Mul,
    ...ins.i32Add,
    ...set(yp),
    ...get(tok),
    ...get(T),
    ...ins.i32LtU,
  ];
  /** Four rows: a 4×4 transpose per column turns lanes (tokens) into one y vector per token. */
  const storeFour = (): Code =>
    Array.from({ length: NV }, (_, c) => [
      ...transpose4(
        accs.slice(0, 4).map((row) => row[c]!) as [number, number, number, number],
        [ab, abHi, cd, cdHi],
        (l, v) => [...v, ...set(out), ...tokenRow(c, l), ...ifThen(storeVector())],
      ),
    ]).flat();
  /** Fewer rows: lane by lane. */
  const storeLanes = (m: number): Code =>
    Array.from({ length: NV }, (_, c) =>
      Array.from({ length: 4 }, (_, l) => [
        ...tokenRow(c, l),
        ...ifThen(
          Array.from({ length: m }, (_, i) => [
            ...get(accs[i]![c]!),
            ...lane(l),
            ...set(sc),
            ...get(yp),
            ...i32(4 * i),
            ...ins.i32Add,
            ...set(ya),
            ...get(ya),
            ...get(sc),
            ...get(ya),
            ...f32Load(),
            ...ins.f32Add,
            ...get(sc),
            ...get(acc),
            ...ins.select,
            ...f32Store(),
          ]).flat(),
        ),
      ]).flat(),
    ).flat();
  /** One m-row tile against the panel at xq (token t0); weight row pointers from r. */
  const tile = (m: number): Code => [
    ...Array.from({ length: m }, (_, i) => [
      ...get(w),
      ...get(r),
      ...i32(i),
      ...ins.i32Add,
      ...get(kb),
      ...ins.i32Mul,
      ...ins.i32Add,
      ...set(wp[i]!),
    ]).flat(),
    ...accs.slice(0, m).flatMap((row) => row.flatMap((a) => [...zeroV, ...set(a)])),
    ...i32(0),
    ...set(j),
    ...whileLt(j, kU, [...Array.from({ length: unroll }, (_, u) => step(m, u)).flat(), ...bumpAll(m, unroll)]),
    ...whileLt(j, kb, [...step(m, 0), ...bumpAll(m, 1)]),
    ...(m === 4 ? storeFour() : storeLanes(m)),
  ];
  /** All panels against the m weight rows at r. */
  const rowsOf = (m: number): Code => [
    ...get(y),
    ...get(r),
    ...i32(2),
    ...ins.i32Shl,
    ...ins.i32Add,
    ...set(yr),
    ...get(pk),
    ...set(xq),
    ...i32(0),
    ...set(t0),
    ...whileLt(t0, T, [...tile(m), ...bump(t0, NC)]),
  ];
  const P = LinearParams;
  const body: Code = [
    ...param(p, P.W, w),
    ...param(p, P.Y, y),
    ...param(p, P.T, T),
    ...param(p, P.YStride, ys),
    ...param(p, P.Accumulate, acc),
    ...param(p, P.Packed, pk),
    ...get(p),
    ...i32Load(4 * P.K),
    ...i32(2),
    ...ins.i32Shl,
    ...set(kb),
    ...get(kb),
    ...i32(~(4 * unroll - 1)),
    ...ins.i32And,
    ...set(kU),
    ...get(r1),
    ...get(r1),
    ...get(r0),
    ...ins.i32Sub,
    ...i32(MR),
    ...ins.i32RemU,
    ...ins.i32Sub,
    ...set(rEnd),
    ...get(r0),
    ...set(r),
    ...whileLt(r, rEnd, [...rowsOf(MR), ...bump(r, MR)]),
    ...Array.from({ length: MR - 1 }, (_, i) => MR - 1 - i).flatMap((m) => [
      ...get(r1),
      ...get(r),
      ...ins.i32Sub,
      ...i32(m),
      ...ins.i32GeU,
      ...ifThen([...rowsOf(m), ...bump(r, m)]),
    ]),
  ];
  return { name, params: 3, locals: L.types, body };
}
