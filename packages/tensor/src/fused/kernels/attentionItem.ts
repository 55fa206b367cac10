import { get, i32, i32Load, ins, set } from '../../wasm/asm.js';
import { type Code } from '../../wasm/encode.js';
import { AttnParams, RowInfo } from './params.js';

/** Shared prologue of the attention kernels: decode item i into t, h and its kv head's row info. */
export function attnItem(p: number, i: number, L: { t: number; h: number; ri: number; heads: number; group: number }): Code {
  return [
    ...get(i), ...get(L.heads), ...ins.i32DivU, ...set(L.t),
    ...get(i), ...get(L.heads), ...ins.i32RemU, ...set(L.h),
    ...get(p), ...i32Load(4 * AttnParams.RowInfo), ...get(L.t), ...i32(4 * RowInfo.Size), ...ins.i32Mul, ...ins.i32Add, ...set(L.ri),
  ];
}

/** Byte offset of kv head (h / group) of row info `ri`'s cache, base field `field`. */
export function headBase(ri: number, field: number, h: number, group: number): Code {
  return [...get(ri), ...i32Load(4 * field), ...get(h), ...get(group), ...ins.i32DivU, ...get(ri), ...i32Load(4 * RowInfo.HeadStride), ...ins.i32Mul, ...ins.i32Add];
}
