import { encodeF16 } from '../bytes/half.js';
import { encodeF32 } from '../bytes/f32.js';
import { encodeQ4_0 } from './quant/q4_0.js';
import { encodeQ4_K } from './quant/q4_k.js';
import { encodeQ5_K } from './quant/q5_k.js';
import { encodeQ6_K } from './quant/q6_k.js';
import { encodeQ8_0 } from './quant/q8_0.js';

/**
 * What `writeGguf` can store. Q8_0 and Q4_0 follow llama.cpp's reference quantisers; the K-quants
 * are plain min/max quantisers in llama.cpp's K-quant layouts (valid files, not its best-error search).
 */
export const ggufWriteDtypes = ['F32', 'F16', 'Q8_0', 'Q4_0', 'Q4_K', 'Q5_K', 'Q6_K'] as const;
export type GgufWriteDtype = (typeof ggufWriteDtypes)[number];

const encoders: Record<GgufWriteDtype, (values: Float32Array) => Uint8Array> = {
  F32: encodeF32,
  F16: encodeF16,
  Q8_0: encodeQ8_0,
  Q4_0: encodeQ4_0,
  Q4_K: encodeQ4_K,
  Q5_K: encodeQ5_K,
  Q6_K: encodeQ6_K,
};

/** The caller has checked that `values` is whole blocks of `dtype`. */
export function encodeGgml(dtype: GgufWriteDtype, values: Float32Array): Uint8Array {
  return encoders[dtype](values);
}
