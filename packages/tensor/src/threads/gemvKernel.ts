import { F32, I32, V128, moduleWithSharedMemory, op, simdOp, sleb, uleb } from './wasmModuleBytes.js';

/**
 * `gemvRows(w, x, y, rowStart, rowEnd, k)`: y[r] = Σ_j w[r·k + j]·x[j] for r in [rowStart, rowEnd), all
 * float32, `w`, `x`, `y` byte offsets into the shared memory. Rows of an [out, in] weight are
 * contiguous, so a decode-time linear reads the weight once, front to back, and two threads split
 * the rows with no copy. Four SIMD accumulators per row (16 floats per step) keep the adds off the
 * critical path: the loop is limited by memory bandwidth, not by add latency.
 */
export function gemvModuleBytes(): Uint8Array<ArrayBuffer> {
  const [w, x, y, r0, r1, k] = [0, 1, 2, 3, 4, 5];
  const [r, p, j, kb, k16b, k4b] = [6, 7, 8, 9, 10, 11];
  const acc = [12, 13, 14, 15] as const;
  const s = 16;

  const get = (i: number): number[] => [op.localGet, ...uleb(i)];
  const set = (i: number): number[] => [op.localSet, ...uleb(i)];
  const i32 = (v: number): number[] => [op.i32Const, ...sleb(v)];
  const memarg = (alignLog2: number, offset: number): number[] => [alignLog2, ...uleb(offset)];
  const loadV = (base: number, offset: number): number[] => [...get(base), ...get(j), op.i32Add, ...simdOp.v128Load, ...memarg(4, offset)];
  const loadF = (base: number): number[] => [...get(base), ...get(j), op.i32Add, op.f32Load, ...memarg(2, 0)];
  const zeroV = [...simdOp.v128Const, ...new Array<number>(16).fill(0)];
  // `while (j < limit) { body }`, as block/loop.
  const whileLess = (counter: number, limit: number, body: number[]): number[] => [
    op.block, op.void, op.loop, op.void,
    ...get(counter), ...get(limit), op.i32GeU, op.brIf, 1,
    ...body,
    op.br, 0, op.end, op.end,
  ];
  const fma = (a: number, offset: number): number[] => [
    ...get(a), ...loadV(p, offset), ...loadV(x, offset), ...simdOp.f32x4Mul, ...simdOp.f32x4Add, ...set(a),
  ];
  const bumpJ = (bytes: number): number[] => [...get(j), ...i32(bytes), op.i32Add, ...set(j)];
  const lane = (i: number): number[] => [...get(acc[0]), ...simdOp.f32x4ExtractLane, i];

  const row = [
    ...get(w), ...get(r), ...get(kb), op.i32Mul, op.i32Add, ...set(p), // p = w + r·k·4
    ...acc.flatMap((a) => [...zeroV, ...set(a)]),
    ...i32(0), ...set(j),
    ...whileLess(j, k16b, [...acc.flatMap((a, i) => fma(a, 16 * i)), ...bumpJ(64)]),
    ...get(acc[0]), ...get(acc[1]), ...simdOp.f32x4Add, ...get(acc[2]), ...get(acc[3]), ...simdOp.f32x4Add, ...simdOp.f32x4Add, ...set(acc[0]),
    ...whileLess(j, k4b, [...fma(acc[0], 0), ...bumpJ(16)]),
    ...lane(0), ...lane(1), op.f32Add, ...lane(2), ...lane(3), op.f32Add, op.f32Add, ...set(s),
    ...whileLess(j, kb, [...get(s), ...loadF(p), ...loadF(x), op.f32Mul, op.f32Add, ...set(s), ...bumpJ(4)]),
    ...get(y), ...get(r), ...i32(2), op.i32Shl, op.i32Add, ...get(s), op.f32Store, ...memarg(2, 0), // y[r] = s
    ...get(r), ...i32(1), op.i32Add, ...set(r),
  ];
  const body = [
    ...get(k), ...i32(2), op.i32Shl, ...set(kb),
    ...get(k), ...i32(~15), op.i32And, ...i32(2), op.i32Shl, ...set(k16b),
    ...get(k), ...i32(~3), op.i32And, ...i32(2), op.i32Shl, ...set(k4b),
    ...get(r0), ...set(r),
    ...whileLess(r, r1, row),
  ];
  return moduleWithSharedMemory([
    { name: 'gemvRows', params: [I32, I32, I32, I32, I32, I32], locals: [I32, I32, I32, I32, I32, I32, V128, V128, V128, V128, F32], body },
  ]);
}
