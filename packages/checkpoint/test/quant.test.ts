import { describe, expect, it } from 'vitest';
import {
  CheckpointError,
  bytesSource,
  decodeGgml,
  encodeGgml,
  readGguf,
  writeGguf,
  type GgufWriteDtype,
} from '@recur/checkpoint';
import { floatToHalfBits } from '../src/bytes/half.js';
import { packKScales, unpackKScales, emptyScales } from '../src/gguf/quant/kScales.js';
import { referenceDecode, referenceLayout, referenceTypes } from './quantReference.js';
import { prng, randomFloats } from './tiny-model.js';

const setHalf = (bytes: Uint8Array, at: number, value: number): void => {
  const bits = floatToHalfBits(value);
  bytes[at] = bits & 0xff;
  bytes[at + 1] = bits >> 8;
};
const range = (n: number, f: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i));

/** Where each format keeps its f16 fields (random bytes there would make NaN/Inf scales). */
const halfFields: Record<string, number[]> = { Q8_0: [0], Q4_0: [0], Q4_K: [0, 2], Q5_K: [0, 2], Q6_K: [208] };

function randomBlocks(type: string, blocks: number, seed: number): Uint8Array {
  const { blockBytes } = referenceLayout(type);
  const random = prng(seed);
  const bytes = Uint8Array.from({ length: blocks * blockBytes }, () => Math.floor(random() * 256));
  for (let b = 0; b < blocks; b++)
    for (const at of halfFields[type]!) setHalf(bytes, b * blockBytes + at, (random() - 0.3) * 0.1);
  return bytes;
}

describe('quantized block decoders', () => {
  it.each(referenceTypes)('%s matches the per-element reference on random blocks (to float32 rounding)', (type) => {
    const { blockSize } = referenceLayout(type);
    const bytes = randomBlocks(type, 6, type.length * 31 + type.charCodeAt(1));
    const got = decodeGgml(type, bytes, 6 * blockSize);
    const want = referenceDecode(type, bytes, 6 * blockSize);
    want.forEach((v, i) => expect(Math.abs(got[i]! - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -23));
    expect(got.some((v) => v !== 0)).toBe(true);
  });

  it('Q8_0 and Q4_0: hand-built blocks', () => {
    const q8 = new Uint8Array(34);
    setHalf(q8, 0, 0.25);
    for (let i = 0; i < 32; i++) q8[2 + i] = (i - 16) & 0xff;
    expect([...decodeGgml('Q8_0', q8, 32)]).toEqual(range(32, (i) => (i - 16) / 4));
    const q4 = new Uint8Array(18);
    setHalf(q4, 0, 0.5);
    for (let j = 0; j < 16; j++) q4[2 + j] = j | ((15 - j) << 4); // element j low nibble, element j + 16 high
    expect([...decodeGgml('Q4_0', q4, 32)]).toEqual(range(32, (i) => (i < 16 ? i - 8 : 7 - (i - 16)) / 2));
  });

  // Sub-block scales and mins chosen to use the high 2 bits of the 6-bit packing (≥ 16 for pairs 4..7).
  const sc = [1, 2, 3, 4, 17, 33, 49, 63];
  const mins = [0, 5, 10, 63, 16, 32, 48, 1];
  const packed = [65, 130, 195, 196, 64, 133, 202, 63, 1, 1, 1, 31]; // packed by hand from the layout

  it('the 6-bit K-quant scale field packs and unpacks as laid out', () => {
    const bytes = new Uint8Array(12);
    packKScales(sc, mins, bytes, 0);
    expect([...bytes]).toEqual(packed);
    const back = unpackKScales(Uint8Array.from(packed), 0, emptyScales());
    expect([...back.scales]).toEqual(sc);
    expect([...back.mins]).toEqual(mins);
  });

  it('Q4_K and Q5_K: a hand-built super-block', () => {
    const q4k = new Uint8Array(144);
    setHalf(q4k, 0, 1);
    setHalf(q4k, 2, 0.5);
    q4k.set(packed, 4);
    q4k.fill(0x5a, 16); // even sub-blocks read 10 (low nibble), odd ones 5
    const q = (s: number): number => (s % 2 === 0 ? 10 : 5);
    expect([...decodeGgml('Q4_K', q4k, 256)]).toEqual(range(256, (e) => sc[e >> 5]! * q(e >> 5) - 0.5 * mins[e >> 5]!));
    const q5k = new Uint8Array(176);
    q5k.set(q4k.subarray(0, 16));
    q5k.fill(0xa5, 16, 48); // high bit of sub-block s = bit s of 0b10100101
    q5k.fill(0x5a, 48);
    const q5 = (s: number): number => q(s) + 16 * ((0xa5 >> s) & 1);
    expect([...decodeGgml('Q5_K', q5k, 256)]).toEqual(
      range(256, (e) => sc[e >> 5]! * q5(e >> 5) - 0.5 * mins[e >> 5]!),
    );
  });

  it('Q6_K: a hand-built super-block (d last, signed scales)', () => {
    const block = new Uint8Array(210);
    block.fill(0x3c, 0, 128); // low nibble 12 for quarters 0–1, high nibble 3 for quarters 2–3
    block.fill(0b11100100, 128, 192); // quarter k takes high bits k
    for (let s = 0; s < 16; s++) block[192 + s] = (s - 8) & 0xff;
    setHalf(block, 208, 0.5);
    const want = range(256, (e) => {
      const [h, k, l] = [e >> 7, (e >> 5) & 3, e & 31];
      return 0.5 * (8 * h + 2 * k + (l >> 4) - 8) * ((k < 2 ? 12 : 3) + 16 * k - 32);
    });
    expect([...decodeGgml('Q6_K', block, 256)]).toEqual(want);
  });

  it('refuses partial blocks and short byte ranges, naming the tensor', () => {
    const site = { file: 'm.gguf', tensor: 'blk.0.ffn_down.weight' };
    expectError(
      () => decodeGgml('Q4_K', new Uint8Array(144), 128, site),
      'bad-shape',
      /m\.gguf: tensor "blk\.0\.ffn_down\.weight" is Q4_K \(blocks of 256\) but has 128/,
    );
    expectError(
      () => decodeGgml('Q6_K', new Uint8Array(209), 256, site),
      'truncated',
      /"blk\.0\.ffn_down\.weight": 256 Q6_K elements need 210 bytes, got 209/,
    );
    expectError(() => decodeGgml('Q4_0', new Uint8Array(35), 64, site), 'truncated', /need 36 bytes, got 35/);
    expectError(() => decodeGgml('Q2_K', new Uint8Array(84), 256, site), 'unsupported-dtype', /is Q2_K/);
  });
});

function expectError(run: () => unknown, code: string, message: RegExp): void {
  let error: unknown;
  try {
    run();
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(CheckpointError);
  expect((error as CheckpointError).code).toBe(code);
  expect((error as Error).message).toMatch(message);
}

/**
 * Round-trip error of our encoders, as a fraction of each block's largest magnitude (Q8_0/Q4_0: the
 * quantisation step bounds the max: half a step, a whole one at Q4_0's clamped +8; K-quants: the
 * 6-bit scale rounding adds to it). On uniform data in [−3, 3] we measured max / RMS of
 * Q8_0 .0041/.0023, Q4_0 .124/.039, Q4_K .066/.036, Q5_K .032/.018, Q6_K .029/.0084; the K-quant
 * and RMS bounds below are those with a ~1.5× margin.
 */
const roundTrip: [GgufWriteDtype, number, number][] = [
  ['Q8_0', 0.5 / 127 + 2 ** -11, 0.0035],
  ['Q4_0', 1 / 8 + 2 ** -11, 0.06],
  ['Q4_K', 0.1, 0.053],
  ['Q5_K', 0.05, 0.026],
  ['Q6_K', 0.045, 0.013],
];

describe('quantized encoders round-trip through the decoders', () => {
  it.each(roundTrip)('%s: max error ≤ %f of the block max, RMS ≤ %f of the block max', (dtype, maxBound, rmsBound) => {
    const values = randomFloats(16 * 256, prng(11), 3);
    const back = decodeGgml(dtype, encodeGgml(dtype, values), values.length);
    const blockSize = dtype.endsWith('_K') ? 256 : 32;
    let squares = 0;
    let scaleSquares = 0;
    for (let b = 0; b < values.length / blockSize; b++) {
      const block = values.subarray(b * blockSize, (b + 1) * blockSize);
      const amax = Math.max(...block.map(Math.abs));
      block.forEach((v, i) => {
        const error = Math.abs(back[b * blockSize + i]! - v);
        expect(error).toBeLessThanOrEqual(maxBound * amax);
        squares += error ** 2;
        scaleSquares += amax ** 2;
      });
    }
    expect(Math.sqrt(squares / scaleSquares)).toBeLessThanOrEqual(rmsBound);
  });

  it('all-zero blocks encode to zeros', () => {
    for (const [dtype] of roundTrip)
      expect([...decodeGgml(dtype, encodeGgml(dtype, new Float32Array(256)), 256)].every((v) => v === 0)).toBe(true);
  });
});

describe('quantized tensors in GGUF files', () => {
  const data = randomFloats(2 * 512, prng(5), 1);
  const file = (dtype: GgufWriteDtype): Uint8Array =>
    writeGguf({ metadata: [], tensors: [{ name: 'w', shape: [2, 512], dtype, data }] });

  it.each(['Q8_0', 'Q4_0', 'Q4_K', 'Q5_K', 'Q6_K'] as const)(
    '%s is written, listed and read back as the decoder gives it',
    async (dtype) => {
      const bytes = file(dtype);
      const gguf = await readGguf(bytesSource(bytes, 'q.gguf'));
      expect(gguf.ggufTensors[0]).toMatchObject({ name: 'w', dtype, ne: [512, 2], shape: [2, 512] });
      expect(await gguf.read('w')).toEqual(decodeGgml(dtype, encodeGgml(dtype, data), data.length));
    },
  );

  it('a row length that is not whole blocks is refused by the writer, naming the tensor', () => {
    const write = (dtype: GgufWriteDtype, cols: number): unknown =>
      writeGguf({
        metadata: [],
        tensors: [{ name: 'blk.0.ffn_down.weight', shape: [2, cols], dtype, data: new Float32Array(2 * cols) }],
      });
    expectError(
      () => write('Q4_K', 384),
      'bad-shape',
      /"blk\.0\.ffn_down\.weight": Q4_K needs a row length divisible by 256, got 384/,
    );
    expectError(() => write('Q4_0', 172), 'bad-shape', /Q4_0 needs a row length divisible by 32, got 172/);
  });

  it('a file cut inside the quantized data is refused', async () => {
    const bytes = file('Q6_K');
    await expect(readGguf(bytesSource(bytes.subarray(0, bytes.length - 5), 'cut.gguf'))).rejects.toMatchObject({
      code: 'offset-out-of-range',
      message: /"w"/,
    });
  });
});
