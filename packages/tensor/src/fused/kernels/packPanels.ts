import { bump, get, i32, ins, param, set, shuffle32, v128Load, v128Store, whileLt, Locals } from '../../wasm/asm.js';
import { I32, V128, type Code, type KernelFunction } from '../../wasm/encode.js';
import { LinearParams } from './params.js';

/**
 * The 4×4 transpose of v128 locals `rows` (lane l of row i → lane i of output l): emit(l, value)
 * gets each output as code that leaves it on the stack. `scratch`: four v128 locals.
 */
export function transpose4(
  rows: readonly [number, number, number, number],
  scratch: readonly [number, number, number, number],
  emit: (l: number, value: Code) => Code,
): Code {
  const [a, b, c, d] = rows;
  const [ab, abHi, cd, cdHi] = scratch;
  const pair = (x: number, y: number, lanes: readonly [number, number, number, number], to: number): Code => [
    ...get(x),
    ...get(y),
    ...shuffle32(lanes),
    ...set(to),
  ];
  const half = (x: number, y: number, lanes: readonly [number, number, number, number]): Code => [
    ...get(x),
    ...get(y),
    ...shuffle32(lanes),
  ];
  return [
    ...pair(a, b, [0, 4, 1, 5], ab), // [a0 b0 a1 b1]
    ...pair(a, b, [2, 6, 3, 7], abHi), // [a2 b2 a3 b3]
    ...pair(c, d, [0, 4, 1, 5], cd),
    ...pair(c, d, [2, 6, 3, 7], cdHi),
    ...emit(0, half(ab, cd, [0, 1, 4, 5])),
    ...emit(1, half(ab, cd, [2, 3, 6, 7])),
    ...emit(2, half(abHi, cdHi, [0, 1, 4, 5])),
    ...emit(3, half(abHi, cdHi, [2, 3, 6, 7])),
  ];
}

/**
 * x [T, K] (rows XStride bytes apart) → Packed [panel][K][NC], NC = 4·NV tokens a panel, for the
 * panels [start, end): the layout linearPacked reads, each k's NC tokens one contiguous run. Tokens
 * past T in the last panel repeat token T − 1 (their sums are computed and never stored). Four tokens
 * × four k at a time: four loads, a 4×4 transpose, four stores.
 */
export function packPanels(NV: number): KernelFunction {
  const NC = 4 * NV;
  const [p, p0, p1] = [0, 1, 2];
  const L = new Locals(3);
  const { x, xs, kb, T, pk, panel, dst, j, tok } = L.named(I32, 'x', 'xs', 'kb', 'T', 'pk', 'panel', 'dst', 'j', 'tok');
  const src = [L.add(I32), L.add(I32), L.add(I32), L.add(I32)] as const;
  const rows = [L.add(V128), L.add(V128), L.add(V128), L.add(V128)] as const;
  const scratch = [L.add(V128), L.add(V128), L.add(V128), L.add(V128)] as const;
  /** src[l] = x + min(token, T − 1)·xs for token panel·NC + 4g + l. */
  const sources = (g: number): Code =>
    src.flatMap((s, l) => [
      ...get(panel),
      ...i32(NC),
      ...ins.i32Mul,
      ...i32(4 * g + l),
      ...ins.i32Add,
      ...set(tok),
      ...get(x),
      ...get(tok),
      ...get(T),
      ...i32(1),
      ...ins.i32Sub,
      ...get(tok),
      ...get(T),
      ...ins.i32LtU,
      ...ins.select,
      ...get(xs),
      ...ins.i32Mul,
      ...ins.i32Add,
      ...set(s),
    ]);
  const group = (g: number): Code => [
    ...sources(g),
    // dst = pk + (panel·K·NC + 4g)·4
    ...get(pk),
    ...get(panel),
    ...get(kb),
    ...ins.i32Mul,
    ...i32(NC),
    ...ins.i32Mul,
    ...ins.i32Add,
    ...i32(16 * g),
    ...ins.i32Add,
    ...set(dst),
    ...i32(0),
    ...set(j),
    ...whileLt(j, kb, [
      ...src.flatMap((s, l) => [...get(s), ...get(j), ...ins.i32Add, ...v128Load(), ...set(rows[l]!)]),
      ...transpose4(rows, scratch, (l, value) => [...get(dst), ...value, ...v128Store(l * NC * 4)]),
      ...bump(dst, 4 * NC * 4),
      ...bump(j, 16),
    ]),
  ];
  const P = LinearParams;
  const body: Code = [
    ...param(p, P.X, x),
    ...param(p, P.XStride, xs),
    ...param(p, P.T, T),
    ...param(p, P.Packed, pk),
    ...param(p, P.K, kb),
    ...get(kb),
    ...i32(2),
    ...ins.i32Shl,
    ...set(kb),
    ...get(p0),
    ...set(panel),
    ...whileLt(panel, p1, [...Array.from({ length: NV }, (_, g) => group(g)).flat(), ...bump(panel, 1)]),
  ];
  return { name: 'packPanels', params: 3, locals: L.types, body };
}
