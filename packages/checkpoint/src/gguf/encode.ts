import { encodeF16, floatToHalfBits } from '../bytes/half.js';
import { encodeF32 } from '../bytes/f32.js';

export type GgufWriteDtype = 'F32' | 'F16' | 'Q8_0';

export function encodeGgml(dtype: GgufWriteDtype, values: Float32Array): Uint8Array {
  if (dtype === 'F32') return encodeF32(values);
  if (dtype === 'F16') return encodeF16(values);
  return encodeQ8_0(values);
}

/** Q8_0 as llama.cpp quantises it: per block of 32, d = max|x| / 127 (stored f16), q = round(x / d). */
function encodeQ8_0(values: Float32Array): Uint8Array {
  const blocks = values.length / 32;
  const out = new Uint8Array(blocks * 34);
  const q = new Int8Array(out.buffer);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(values[b * 32 + i]!));
    const d = amax / 127;
    const bits = floatToHalfBits(d);
    out[b * 34] = bits & 0xff;
    out[b * 34 + 1] = bits >> 8;
    const inv = d ? 1 / d : 0;
    for (let i = 0; i < 32; i++) q[b * 34 + 2 + i] = Math.round(values[b * 32 + i]! * inv);
  }
  return out;
}

