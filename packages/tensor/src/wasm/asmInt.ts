import type { Code } from './encode.js';
import { uleb } from './encode.js';

/** Integer SIMD instructions of the quantized kernels (final 128-bit SIMD opcode numbering, spec §5.4.8). */
const simd = (code: number): Code => [0xfd, ...uleb(code)];

export const intIns = {
  i32ShrU: [0x76],
  i8x16Splat: simd(0x0f),
  v128And: simd(0x4e),
  i8x16Sub: simd(0x71),
  i8x16ShrU: simd(0x6d),
  i16x8Add: simd(0x8e),
  /** 8 i16 products of the low (high) 8 signed bytes of the two operands. */
  i16x8ExtmulLowI8x16S: simd(0x9c),
  i16x8ExtmulHighI8x16S: simd(0x9d),
  i16x8ExtendLowI8x16S: simd(0x87),
  i16x8ExtendHighI8x16S: simd(0x88),
  i32x4ExtendLowI16x8S: simd(0xa7),
  i32x4ExtendHighI16x8S: simd(0xa8),
  /** Adjacent i16 lanes summed into 4 i32. */
  i32x4ExtaddPairwiseI16x8S: simd(0x7e),
  f32x4ConvertI32x4S: simd(0xfa),
  i16x8NarrowI32x4S: simd(0x85),
  i8x16NarrowI16x8S: simd(0x65),
  i16x8Splat: simd(0x10),
  i16x8Sub: simd(0x91),
  i16x8ShrU: simd(0x8d),
  /** 4 i32 lanes, each the sum of two adjacent i16 products (x64: one pmaddwd). */
  i32x4DotI16x8S: simd(0xba),
  i32x4Sub: simd(0xb1),
  /**
   * Relaxed SIMD: 8 i16 lanes, each the sum of two adjacent products of signed bytes (first operand)
   * and bytes in [0, 127] (second); x64: one pmaddubsw. Deterministic while the second stays in range.
   */
  i16x8RelaxedDotI8x16I7x16S: simd(0x112),
} as const;

/** `v128.load8x8_s offset`: 8 signed bytes widened to i16x8 (x64: one pmovsxbw). */
export const v128Load8x8S = (offset = 0): Code => [...simd(0x01), 3, ...uleb(offset)];
/** `v128.load8x8_u offset`: 8 unsigned bytes widened to i16x8. */
export const v128Load8x8U = (offset = 0): Code => [...simd(0x02), 3, ...uleb(offset)];
