import { RowInfo } from '@recur/tensor';
import type { FastContext } from './layerPass.js';

/**
 * Moves rows `outRows` (ascending) of qkv, h and the row info to rows 0, 1, …: each row moves to a
 * lower or equal index, so going in order never overwrites a row still to be moved.
 */
export function packRows(ctx: FastContext, outRows: readonly number[]): void {
  const { config, ops, scratch: S } = ctx;
  const { hiddenSize: d, numHeads: heads, numKvHeads: kvHeads, headDim: hd } = config;
  const qkvDim = (heads + 2 * kvHeads) * hd;
  const f32 = ops.runtime.f32;
  const i32 = ops.runtime.i32;
  const move = (array: Float32Array | Int32Array, base: number, width: number, from: number, to: number): void => {
    array.copyWithin(base + to * width, base + from * width, base + (from + 1) * width);
  };
  for (const [n, t] of outRows.entries()) {
    if (t === n) continue;
    move(f32, S.at('qkv') >>> 2, qkvDim, t, n);
    move(f32, S.at('h') >>> 2, d, t, n);
    move(i32, S.at('rowInfo') >>> 2, RowInfo.Size, t, n);
  }
}
