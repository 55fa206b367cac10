import {
  bump,
  f32Load,
  f32Store,
  floatAddr,
  get,
  i32,
  i32Load,
  ifThen,
  ins,
  lane,
  set,
  v128Load,
  v128Store,
  whileLt,
} from '../../wasm/asm.js';
import type { Code } from '../../wasm/encode.js';
import { AttnParams } from './params.js';

/** The locals of the fused attention kernel the probability pass reads. */
export interface KeepLocals {
  /** Params block (i32 byte address). */
  readonly p: number;
  /** The item's score row (byte address), holding e = exp(score − max) after the softmax pass. */
  readonly sp: number;
  readonly s: number;
  readonly n: number;
  readonly n4: number;
  readonly a: number;
  /** v128 splat of 1 / Σ e. */
  readonly inv: number;
}

/**
 * When the params' KeepProbs is set: score row ← e / Σ e in place, so the row holds the item's
 * softmax probabilities for the steps that reuse them (EchoAtt, arXiv 2409.14595). Four at a time,
 * then the remainder; the same 1/Σ the values were scaled by.
 */
export function keepProbabilities(L: KeepLocals): Code {
  const scale = (load: Code, mul: Code, store: Code): Code => [
    ...floatAddr(L.sp, L.s),
    ...set(L.a),
    ...get(L.a),
    ...get(L.a),
    ...load,
    ...get(L.inv),
    ...mul,
    ...store,
  ];
  return [
    ...get(L.p),
    ...i32Load(4 * AttnParams.KeepProbs),
    ...ifThen([
      ...i32(0),
      ...set(L.s),
      ...whileLt(L.s, L.n4, [...scale(v128Load(), ins.f32x4Mul, v128Store()), ...bump(L.s, 4)]),
      ...whileLt(L.s, L.n, [...scale(f32Load(), [...lane(0), ...ins.f32Mul], f32Store()), ...bump(L.s, 1)]),
    ]),
  ];
}
