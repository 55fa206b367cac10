import { describe, expect, it } from 'vitest';
import { bytesSource, openSafetensors, writeSafetensors } from '@recur/checkpoint';

/** Encode with our writer and decode with our reader: the public path for F16/BF16. */
async function roundTrip(dtype: 'F16' | 'BF16', values: Float32Array): Promise<Float32Array> {
  const file = await openSafetensors(
    bytesSource(writeSafetensors([{ name: 'x', shape: [values.length], dtype, data: values }]), 'h'),
  );
  return file.read('x');
}

function halfToFloat(h: number): number {
  const e = (h >> 10) & 31;
  const m = h & 1023;
  const s = h & 0x8000 ? -1 : 1;
  return e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
}

describe('half and bfloat16 conversion', () => {
  it('every one of the 65,536 half values survives float → half → float', async () => {
    const all = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) all[h] = halfToFloat(h);
    const back = await roundTrip('F16', all);
    for (let h = 0; h < 65536; h++)
      expect(Object.is(back[h], all[h]) || (Number.isNaN(back[h]!) && Number.isNaN(all[h]!))).toBe(true);
  });

  it('rounds half-way cases to even', async () => {
    const one = 1;
    const ulp = 2 ** -10;
    const back = await roundTrip(
      'F16',
      new Float32Array([one + ulp / 2, one + 1.5 * ulp, 2 ** -24 / 2, 65504 + 15.99, 65520]),
    );
    expect(Array.from(back)).toEqual([1, 1 + 2 * ulp, 0, 65504, Infinity]);
  });

  it('bfloat16 keeps the top 16 bits, rounding to nearest even', async () => {
    const back = await roundTrip('BF16', new Float32Array([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -7, -3.5, 1e-40]));
    expect(Array.from(back.subarray(0, 4))).toEqual([1, 1 + 2 ** -6, 1 + 2 ** -7, -3.5]);
    expect(Math.abs(back[4]! - 1e-40)).toBeLessThanOrEqual(2 ** -134); // half a subnormal step
  });
});
