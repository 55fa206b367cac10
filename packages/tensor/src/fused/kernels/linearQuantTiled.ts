import { add, bump, get, hsum, i32, ifThen, ins, param, set, whileLt, zeroV, Locals } from '../../wasm/asm.js';
import { intIns } from '../../wasm/asmInt.js';
import { F32, I32, V128, type Code, type KernelFunction } from '../../wasm/encode.js';
import { storeMaybeAdd } from './linearRows.js';
import { blockDotFor, loadSplat, type BlockLocals } from './quantBlockDots.js';
import { QuantLinearParams, type QuantFormat } from './quantParams.js';

/**
 * The quantized prefill GEMM (QuantLinearParams, the job of linearQuantRows for many activation
 * rows): weight rows as int8 (q8_0) or 4-bit (q4_0) blocks of 32 against activation rows quantized
 * to int8 per 32-block. Register-tiled like linearTiled: for each group of NR weight rows (kept in
 * L1), every group of MT activation rows runs one loop over the blocks; per block the format's
 * BlockDot (quantBlockDots.ts) reads each weight block once for the MT rows and leaves MT·NR i32x4
 * block sums, each then converted to f32 and added times its two scales (sw·sx) into an f32x4 total.
 * No f32 copy of the weights is made (the panel-dequantize path wrote one per call). Activation rows
 * are `X` (xBlockBytes per block), their scales `XS` and, for q4_0, corrections `XC` (k/32 per row).
 * `fma`: the scaling is one relaxed multiply-add (relaxed SIMD; q4_0 needs it anyway).
 */
export function linearQuantTiled(format: QuantFormat, fma: boolean): KernelFunction {
  const { dot, MT, NR } = blockDotFor(format);
  const [p, r0, r1] = [0, 1, 2];
  const L = new Locals(3);
  const v = L.named(I32, 'w', 's', 'x', 'xs', 'xc', 'y', 'k', 'T', 'ys', 'acc', 'r', 't', 'rowBytes', 'sRow', 'xRow');
  const q = L.named(I32, 'xt', 'xst', 'xct', 'yt', 'wr', 'sr', 'tEnd', 'rEnd', 'xEnd', 'yp');
  const rowsOfI32 = (n: number): number[] => Array.from({ length: n }, () => L.add(I32));
  const tileOfV128 = (): number[][] => Array.from({ length: MT }, () => Array.from({ length: NR }, () => L.add(V128)));
  const [xp, xsp, xcp, wp, wsp] = [rowsOfI32(MT), rowsOfI32(MT), rowsOfI32(MT), rowsOfI32(NR), rowsOfI32(NR)];
  const [ia, fa] = [tileOfV128(), tileOfV128()];
  const wv = Array.from({ length: NR }, () => L.add(V128));
  const wv2 = Array.from({ length: NR }, () => L.add(V128));
  const { t0, t1, t2, m15 } = L.named(V128, 't0', 't1', 't2', 'm15');
  const out = L.add(F32);
  const P = QuantLinearParams;
  const q8 = format === 'q8_0';
  const locals: BlockLocals = { wp, xp, xcp, ia, wv, wv2, t0, t1, t2, m15 };

  /** One mt×nr tile over all blocks: activation rows at xt (scales xst, corrections xct), weight rows at wr (scales sr). */
  const tile = (mt: number, nr: number): Code => {
    // fa += f32(ia)·(sx·sw): each weight scale splats once per block, each activation scale once per row
    const scale: Code = [
      ...Array.from({ length: nr }, (_, c) => [...get(wsp[c]!), ...loadSplat, ...set(wv[c]!)]).flat(),
      ...Array.from({ length: mt }, (_, i) => [
        ...[...get(xsp[i]!), ...loadSplat, ...set(t0)],
        ...Array.from({ length: nr }, (_, c) => {
          const a = fa[i]![c]!;
          const sum = [...get(ia[i]![c]!), ...intIns.f32x4ConvertI32x4S, ...get(t0), ...get(wv[c]!), ...ins.f32x4Mul];
          return fma
            ? [...sum, ...get(a), ...ins.f32x4RelaxedMadd, ...set(a)]
            : [...get(a), ...sum, ...ins.f32x4Mul, ...ins.f32x4Add, ...set(a)];
        }).flat(),
      ]).flat(),
    ];
    const pointers: Code = [
      ...Array.from({ length: mt }, (_, i) =>
        i === 0
          ? [...get(q.xt), ...set(xp[0]!), ...get(q.xst), ...set(xsp[0]!), ...get(q.xct), ...set(xcp[0]!)]
          : [
              ...[...add(xp[i - 1]!, v.xRow), ...set(xp[i]!)],
              ...[...add(xsp[i - 1]!, v.sRow), ...set(xsp[i]!)],
              ...[...add(xcp[i - 1]!, v.sRow), ...set(xcp[i]!)],
            ],
      ).flat(),
      ...Array.from({ length: nr }, (_, c) =>
        c === 0
          ? [...get(q.wr), ...set(wp[0]!), ...get(q.sr), ...set(wsp[0]!)]
          : [...add(wp[c - 1]!, v.rowBytes), ...set(wp[c]!), ...add(wsp[c - 1]!, v.sRow), ...set(wsp[c]!)],
      ).flat(),
      ...fa.slice(0, mt).flatMap((row) => row.slice(0, nr).flatMap((a) => [...zeroV, ...set(a)])),
      ...add(q.xt, v.xRow),
      ...set(q.xEnd),
    ];
    const stores: Code = Array.from({ length: mt }, (_, i) =>
      Array.from({ length: nr }, (_, c) => [
        ...hsum(fa[i]![c]!),
        ...set(out),
        ...[...get(q.yt), ...get(v.ys), ...i32(i), ...ins.i32Mul, ...ins.i32Add, ...i32(4 * c), ...ins.i32Add],
        ...set(q.yp),
        ...storeMaybeAdd(q.yp, out, v.acc),
      ]).flat(),
    ).flat();
    return [
      ...pointers,
      ...whileLt(xp[0]!, q.xEnd, [
        ...dot.emit(locals, mt, nr),
        ...scale,
        ...xp.slice(0, mt).flatMap((a) => bump(a, dot.xBlockBytes)),
        ...[...xsp.slice(0, mt), ...wsp.slice(0, nr)].flatMap((a) => bump(a, 4)),
        ...(dot.corrections ? xcp.slice(0, mt).flatMap((a) => bump(a, 4)) : []),
        ...wp.slice(0, nr).flatMap((a) => bump(a, q8 ? 32 : 16)),
      ]),
      ...stores,
    ];
  };

  /** `local += m·stride`. */
  const step = (local: number, stride: number, m: number): Code => [
    ...[...get(local), ...get(stride), ...i32(m), ...ins.i32Mul, ...ins.i32Add, ...set(local)],
  ];
  /** Moves the activation and output row pointers on by m rows. */
  const advance = (m: number): Code => [
    ...bump(v.t, m),
    ...step(q.xt, v.xRow, m),
    ...step(q.xst, v.sRow, m),
    ...step(q.xct, v.sRow, m),
    ...step(q.yt, v.ys, m),
  ];
  /** All activation rows against the nr weight rows at r: MT at a time, then one tile of each smaller height that fits. */
  const rowsOf = (nr: number): Code => [
    ...[...get(v.w), ...get(v.r), ...get(v.rowBytes), ...ins.i32Mul, ...ins.i32Add, ...set(q.wr)],
    ...[...get(v.s), ...get(v.r), ...get(v.sRow), ...ins.i32Mul, ...ins.i32Add, ...set(q.sr)],
    ...[...get(v.y), ...get(v.r), ...i32(2), ...ins.i32Shl, ...ins.i32Add, ...set(q.yt)],
    ...[...get(v.x), ...set(q.xt), ...get(v.xs), ...set(q.xst), ...get(v.xc), ...set(q.xct), ...i32(0), ...set(v.t)],
    ...whileLt(v.t, q.tEnd, [...tile(MT, nr), ...advance(MT)]),
    ...Array.from({ length: MT - 1 }, (_, i) => MT - 1 - i).flatMap((m) => [
      ...[...get(v.T), ...get(v.t), ...ins.i32Sub, ...i32(m), ...ins.i32GeU],
      ...ifThen([...tile(m, nr), ...advance(m)]),
    ]),
  ];
  const body: Code = [
    ...param(p, P.W, v.w),
    ...param(p, P.S, v.s),
    ...param(p, P.X, v.x),
    ...param(p, P.XS, v.xs),
    ...param(p, P.XC, v.xc),
    ...param(p, P.Y, v.y),
    ...param(p, P.K, v.k),
    ...param(p, P.T, v.T),
    ...param(p, P.YStride, v.ys),
    ...param(p, P.Accumulate, v.acc),
    ...[...get(v.k), ...i32(q8 ? 0 : 1), ...intIns.i32ShrU, ...set(v.rowBytes)], // q4_0 rows hold k/2 bytes
    ...[...get(v.k), ...i32(3), ...intIns.i32ShrU, ...set(v.sRow)], // k/32 scales of 4 bytes
    ...[...get(v.k), ...i32(5), ...intIns.i32ShrU, ...i32(dot.xBlockBytes), ...ins.i32Mul, ...set(v.xRow)],
    ...[...i32(15), ...intIns.i8x16Splat, ...set(m15)],
    ...[...get(v.T), ...get(v.T), ...i32(MT), ...ins.i32RemU, ...ins.i32Sub, ...set(q.tEnd)],
    ...[...get(r1), ...get(r1), ...get(r0), ...ins.i32Sub, ...i32(NR), ...ins.i32RemU, ...ins.i32Sub, ...set(q.rEnd)],
    ...get(r0),
    ...set(v.r),
    ...whileLt(v.r, q.rEnd, [...rowsOf(NR), ...bump(v.r, NR)]),
    ...Array.from({ length: NR - 1 }, (_, i) => NR - 1 - i).flatMap((n) => [
      ...[...get(r1), ...get(v.r), ...ins.i32Sub, ...i32(n), ...ins.i32GeU],
      ...ifThen([...rowsOf(n), ...bump(v.r, n)]),
    ]),
  ];
  return { name: q8 ? 'linearQ8Tiled' : 'linearQ4Tiled', params: 3, locals: L.types, body };
}
