import { get, i32, ins, set, v128Load } from '../../wasm/asm.js';
import { intIns, v128Load8x8S } from '../../wasm/asmInt.js';
import type { Code } from '../../wasm/encode.js';
import type { QuantFormat } from './quantParams.js';

/** `v128.load32_splat` (4-byte aligned): one 32-bit value broadcast to all four lanes. */
export const loadSplat: Code = [0xfd, 0x09, 2, 0];

/** The locals a block dot reads and writes (indices), laid out by linearQuantTiled. */
export interface BlockLocals {
  /** Per weight row c of the tile: its block's quants. */
  readonly wp: readonly number[];
  /** Per activation row i of the tile: its block's quants, and its block's correction (q4_0). */
  readonly xp: readonly number[];
  readonly xcp: readonly number[];
  /** Out: the block's i32x4 partial sums, [i][c]. */
  readonly ia: readonly (readonly number[])[];
  /** v128 scratch: two per weight row, and three. */
  readonly wv: readonly number[];
  readonly wv2: readonly number[];
  readonly t0: number;
  readonly t1: number;
  readonly t2: number;
  /** v128 holding 15 in every byte (set once by the kernel). */
  readonly m15: number;
}

/**
 * How one 32-element block of mt activation rows meets nr weight rows in integers, leaving each
 * (i, c) pair's i32x4 partial sums in ia[i][c] (their four lanes add up to Σ_j wq_j·xq_j).
 */
export interface BlockDot {
  /** Bytes of one activation row's block in the activation buffer. */
  readonly xBlockBytes: number;
  /** Whether the activation rows come with a per-block correction (−2·Σ_j xq_j as an i32). */
  readonly corrections: boolean;
  readonly emit: (L: BlockLocals, mt: number, nr: number) => Code;
}

/**
 * q8_0 × activations widened to i16 (baseline SIMD): per 8 elements, each weight row's bytes are
 * widened once (v128.load8x8_s) and meet every activation row in one i32x4.dot_i16x8_s (pmaddwd,
 * 8 products). Activations are stored as i16 so they need no widening per tile.
 */
const q8Wide: BlockDot = {
  xBlockBytes: 64,
  corrections: false,
  emit: (L, mt, nr) =>
    [0, 1, 2, 3].flatMap((step) => [
      ...Array.from({ length: nr }, (_, c) => [...get(L.wp[c]!), ...v128Load8x8S(8 * step), ...set(L.wv[c]!)]).flat(),
      ...Array.from({ length: mt }, (_, i) => [
        ...get(L.xp[i]!),
        ...v128Load(16 * step),
        ...set(L.t0),
        ...Array.from({ length: nr }, (_, c) => [
          ...get(L.t0),
          ...get(L.wv[c]!),
          ...intIns.i32x4DotI16x8S,
          ...(step === 0 ? [] : [...get(L.ia[i]![c]!), ...ins.i32x4Add]),
          ...set(L.ia[i]![c]!),
        ]).flat(),
      ]).flat(),
    ]),
};

/**
 * q4_0 with relaxed SIMD: the nibbles (0 … 15, before the − 8) are the unsigned operand of
 * i16x8.relaxed_dot_i8x16_i7x16_s (pmaddubsw: 16 products into 8 i16 pair sums, at most
 * 2·15·128 — no saturation, and in range for the relaxed op, so exact everywhere). The two halves'
 * pair sums add in i16 (≤ 7680), widen pairwise to i32, and the block's − 8·Σ xq comes in as
 * −2·Σ xq in each of the four lanes.
 */
const q4Relaxed: BlockDot = {
  xBlockBytes: 32,
  corrections: true,
  emit: (L, mt, nr) => [
    ...Array.from({ length: nr }, (_, c) => [
      ...[...get(L.wp[c]!), ...v128Load(0), ...set(L.wv2[c]!)],
      ...[...get(L.wv2[c]!), ...get(L.m15), ...intIns.v128And, ...set(L.wv[c]!)], // elements 0 … 15
      ...[...get(L.wv2[c]!), ...i32(4), ...intIns.i8x16ShrU, ...set(L.wv2[c]!)], // elements 16 … 31
    ]).flat(),
    ...Array.from({ length: mt }, (_, i) => [
      ...[...get(L.xp[i]!), ...v128Load(0), ...set(L.t0)],
      ...[...get(L.xp[i]!), ...v128Load(16), ...set(L.t1)],
      ...[...get(L.xcp[i]!), ...loadSplat, ...set(L.t2)],
      ...Array.from({ length: nr }, (_, c) => [
        ...[...get(L.t0), ...get(L.wv[c]!), ...intIns.i16x8RelaxedDotI8x16I7x16S],
        ...[...get(L.t1), ...get(L.wv2[c]!), ...intIns.i16x8RelaxedDotI8x16I7x16S],
        ...intIns.i16x8Add,
        ...intIns.i32x4ExtaddPairwiseI16x8S,
        ...get(L.t2),
        ...ins.i32x4Add,
        ...set(L.ia[i]![c]!),
      ]).flat(),
    ]).flat(),
  ],
};

/**
 * The block dot and register tile (MT activation rows × NR weight rows) of each format, measured
 * in CPU time on this machine's V8 (k 576, 1536 weight rows, T 256, GOPS per core; the panel
 * dequantize + f32 GEMM ≈ 44 for q8_0, ≈ 49 for q4_0): q8_0 i16 dot 1×2 ≈ 48, 2×1 ≈ 46, 2×2 ≈ 35,
 * 3×3 ≈ 37 (V8 spills past ~12 live v128); q4_0 pmaddubsw 2×2 ≈ 62, 1×2 ≈ 55, 3×2 ≈ 43; q4_0 with
 * the i16 dot instead ≤ 38, and i32x4.relaxed_dot_i8x16_i7x16_add_s ≤ 46 (V8 11 has no VNNI form:
 * three instructions).
 */
/** Weight rows per tile of both tiled kernels: QuantLinear hands out whole tiles. */
export const QUANT_TILE_ROWS = 2;

export function blockDotFor(format: QuantFormat): { readonly dot: BlockDot; readonly MT: number; readonly NR: number } {
  return format === 'q8_0'
    ? { dot: q8Wide, MT: 1, NR: QUANT_TILE_ROWS }
    : { dot: q4Relaxed, MT: 2, NR: QUANT_TILE_ROWS };
}
