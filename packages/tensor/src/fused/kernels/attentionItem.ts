import { bump, get, i32, i32Load, ins, param, set, whileLt } from '../../wasm/asm.js';
import type { Code } from '../../wasm/encode.js';
import { AttnParams, RowInfo } from './params.js';

/** The locals every attention kernel decodes its items into. */
export interface ItemLocals {
  readonly i: number;
  readonly t: number;
  readonly h: number;
  readonly ri: number;
  readonly heads: number;
  readonly group: number;
  readonly hb: number;
}

/**
 * The loop of the attention kernels over items [i0, i1): reads heads, group and head bytes from the
 * params at `p` (then runs `setup`), and per item i decodes t = i / heads, h = i % heads and row t's
 * info pointer `ri` before `body`.
 */
export function forEachItem(p: number, i0: number, i1: number, L: ItemLocals, setup: Code, body: Code): Code {
  return [
    ...param(p, AttnParams.Heads, L.heads),
    ...param(p, AttnParams.Group, L.group),
    ...param(p, AttnParams.HeadBytes, L.hb),
    ...setup,
    ...get(i0),
    ...set(L.i),
    ...whileLt(L.i, i1, [
      ...get(L.i),
      ...get(L.heads),
      ...ins.i32DivU,
      ...set(L.t),
      ...get(L.i),
      ...get(L.heads),
      ...ins.i32RemU,
      ...set(L.h),
      ...get(p),
      ...i32Load(4 * AttnParams.RowInfo),
      ...get(L.t),
      ...i32(4 * RowInfo.Size),
      ...ins.i32Mul,
      ...ins.i32Add,
      ...set(L.ri),
      ...body,
      ...bump(L.i, 1),
    ]),
  ];
}

/** Byte offset of kv head (h / group) of row info `ri`'s cache, base field `field`. */
export function headBase(L: ItemLocals, field: number): Code {
  return [
    ...get(L.ri),
    ...i32Load(4 * field),
    ...get(L.h),
    ...get(L.group),
    ...ins.i32DivU,
    ...get(L.ri),
    ...i32Load(4 * RowInfo.HeadStride),
    ...ins.i32Mul,
    ...ins.i32Add,
  ];
}

/** `params[base] + index·params[stride]`, plus h·(head bytes) when `perHead`: a row (and head) of a strided array. */
export function rowPtr(
  p: number,
  base: number,
  stride: number,
  index: number,
  L: Pick<ItemLocals, 'h' | 'hb'>,
  perHead: boolean,
): Code {
  return [
    ...get(p),
    ...i32Load(4 * base),
    ...get(index),
    ...get(p),
    ...i32Load(4 * stride),
    ...ins.i32Mul,
    ...ins.i32Add,
    ...(perHead ? [...get(L.h), ...get(L.hb), ...ins.i32Mul, ...ins.i32Add] : []),
  ];
}
