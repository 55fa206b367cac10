import { sleb, uleb, type Code } from './encode.js';

/**
 * Structured helpers over raw wasm instruction bytes, enough to write kernels as readable TypeScript
 * (encode.ts has the encoding; spec: webassembly.github.io/spec, binary format §5; SIMD opcodes use
 * the final 128-bit SIMD numbering).
 */
const simd = (code: number): Code => [0xfd, ...uleb(code)];

export const get = (i: number): Code => [0x20, ...uleb(i)];
export const set = (i: number): Code => [0x21, ...uleb(i)];
export const tee = (i: number): Code => [0x22, ...uleb(i)];
export const i32 = (v: number): Code => [0x41, ...sleb(v)];
export const f32 = (v: number): Code => {
  const bytes = new Uint8Array(new Float32Array([v]).buffer);
  return [0x43, ...bytes];
};

export const ins = {
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32DivU: [0x6e],
  i32RemU: [0x70],
  i32And: [0x71],
  i32Shl: [0x74],
  i32ShrU: [0x76],
  i32LtU: [0x49],
  i32GeU: [0x4f],
  i32Eqz: [0x45],
  f32Sqrt: [0x91],
  f32Add: [0x92],
  f32Sub: [0x93],
  f32Mul: [0x94],
  f32Div: [0x95],
  f32Max: [0x97],
  f32Nearest: [0x90],
  f32Lt: [0x5d],
  i32TruncF32S: [0xa8],
  f32ConvertI32U: [0xb3],
  f32ReinterpretI32: [0xbe],
  f64Add: [0xa0],
  f64Sub: [0xa1],
  f64Mul: [0xa2],
  f64PromoteF32: [0xbb],
  f32DemoteF64: [0xb6],
  select: [0x1b],
  drop: [0x1a],
  f32x4Add: simd(0xe4),
  f32x4Sub: simd(0xe5),
  f32x4Mul: simd(0xe6),
  f32x4Div: simd(0xe7),
  f32x4Max: simd(0xe9),
  f32x4Splat: simd(0x13),
  f64x2Add: simd(0xf0),
  f64x2Sub: simd(0xf1),
  f64x2Mul: simd(0xf2),
  f64x2PromoteLowF32x4: simd(0x5f),
  f32x4DemoteF64x2Zero: simd(0x5e),
  f32x4Abs: simd(0xe0),
  f32x4Neg: simd(0xe1),
  f32x4Nearest: simd(0x6a),
  f32x4Ge: simd(0x46),
  /** Relaxed SIMD (a·b + c, fused or not as the host does it); needs the relaxed-simd feature. */
  f32x4RelaxedMadd: simd(0x105),
  i32x4TruncSatF32x4S: simd(0xf8),
  i32x4Add: simd(0xae),
  i32x4Shl: simd(0xab),
  i32x4Splat: simd(0x11),
  v128Bitselect: simd(0x52),
} as const;

/** `i32.load offset` from the address on the stack (4-byte aligned). */
export const i32Load = (offset = 0): Code => [0x28, 2, ...uleb(offset)];
export const f32Load = (offset = 0): Code => [0x2a, 2, ...uleb(offset)];
export const f32Store = (offset = 0): Code => [0x38, 2, ...uleb(offset)];
/** v128 loads/stores declare 4-byte alignment: float32 arrays are only guaranteed that. */
export const v128Load = (offset = 0): Code => [...simd(0x00), 2, ...uleb(offset)];
/** v128.load32_splat: one float broadcast to the 4 lanes. */
export const v128Load32Splat = (offset = 0): Code => [...simd(0x09), 2, ...uleb(offset)];
export const v128Store = (offset = 0): Code => [...simd(0x0b), 2, ...uleb(offset)];
export const lane = (i: number): Code => [...simd(0x1f), i];
export const zeroV: Code = [...simd(0x0c), ...new Array<number>(16).fill(0)];

/** Locals `a + b` (i32). */
export const add = (a: number, b: number): Code => [...get(a), ...get(b), ...ins.i32Add];
/** Byte address of float `index` past byte address `base` (both i32 locals): base + index·4. */
export const floatAddr = (base: number, index: number): Code => [
  ...get(base),
  ...get(index),
  ...i32(2),
  ...ins.i32Shl,
  ...ins.i32Add,
];

/** `local = i32.load(p + 4·index)`: kernels read their parameters from a block in memory. */
export const param = (p: number, index: number, local: number): Code => [
  ...get(p),
  ...i32Load(4 * index),
  ...set(local),
];

/** `while (counter < limit) { body }` on unsigned locals. */
export function whileLt(counter: number, limit: number, body: Code): Code {
  return [0x02, 0x40, 0x03, 0x40, ...get(counter), ...get(limit), ...ins.i32GeU, 0x0d, 1, ...body, 0x0c, 0, 0x0b, 0x0b];
}

/** `if (i32 on the stack) { body }`. */
export const ifThen = (body: Code): Code => [0x04, 0x40, ...body, 0x0b];

/** `local += step` (i32). */
export const bump = (local: number, step: number): Code => [...get(local), ...i32(step), ...ins.i32Add, ...set(local)];

/** i8x16.shuffle of the two v128 on the stack, by f32 lanes (0–3 from the first, 4–7 from the second). */
export const shuffle32 = (lanes: readonly [number, number, number, number]): Code => [
  ...simd(0x0d),
  ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]),
];

/**
 * The four horizontal sums of v128 locals a, b, c, d as one v128 on the stack, lane i the sum of
 * the i-th ((l0 + l2) + (l1 + l3) each); ab and cd are v128 scratch locals.
 */
export const hsum4 = (a: number, b: number, c: number, d: number, ab: number, cd: number): Code => [
  ...get(a),
  ...get(b),
  ...shuffle32([0, 4, 1, 5]),
  ...get(a),
  ...get(b),
  ...shuffle32([2, 6, 3, 7]),
  ...ins.f32x4Add,
  ...set(ab), // [a0+a2, b0+b2, a1+a3, b1+b3]
  ...get(c),
  ...get(d),
  ...shuffle32([0, 4, 1, 5]),
  ...get(c),
  ...get(d),
  ...shuffle32([2, 6, 3, 7]),
  ...ins.f32x4Add,
  ...set(cd),
  ...get(ab),
  ...get(cd),
  ...shuffle32([0, 1, 4, 5]),
  ...get(ab),
  ...get(cd),
  ...shuffle32([2, 3, 6, 7]),
  ...ins.f32x4Add,
];

/** Horizontal sum of a v128 local, left on the stack as f32 ((l0 + l1) + (l2 + l3)). */
export const hsum = (v: number): Code => [
  ...get(v),
  ...lane(0),
  ...get(v),
  ...lane(1),
  ...ins.f32Add,
  ...get(v),
  ...lane(2),
  ...get(v),
  ...lane(3),
  ...ins.f32Add,
  ...ins.f32Add,
];

/** A kernel's locals after its parameters, numbered in the order they are added. */
export class Locals {
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
