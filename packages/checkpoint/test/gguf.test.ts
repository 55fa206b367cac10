import { describe, expect, it } from 'vitest';
import { bytesSource, readGguf, writeGguf, type GgufMetadataEntry } from '@recur/checkpoint';
import { openFileSource } from '@recur/checkpoint/node';
import { prng, randomFloats } from './tiny-model.js';
import { storiesGguf } from './stories.js';

const every: GgufMetadataEntry[] = [
  { key: 'u8', type: 'uint8', value: 255 },
  { key: 'i8', type: 'int8', value: -128 },
  { key: 'u16', type: 'uint16', value: 65535 },
  { key: 'i16', type: 'int16', value: -32768 },
  { key: 'u32', type: 'uint32', value: 4294967295 },
  { key: 'i32', type: 'int32', value: -2147483648 },
  { key: 'f32', type: 'float32', value: 0.5 },
  { key: 'bool', type: 'bool', value: true },
  { key: 'str', type: 'string', value: 'héllo ▁ 😀' },
  { key: 'u64', type: 'uint64', value: 2n ** 64n - 1n },
  { key: 'i64', type: 'int64', value: -5 },
  { key: 'f64', type: 'float64', value: Math.PI },
  { key: 'arr.str', type: 'array', itemType: 'string', value: ['a', '', 'ü'] },
  { key: 'arr.f32', type: 'array', itemType: 'float32', value: [1.5, -2] },
  { key: 'arr.empty', type: 'array', itemType: 'int32', value: [] },
  { key: 'arr.bool', type: 'array', itemType: 'bool', value: [true, false] },
];

describe('GGUF writer → reader', () => {
  it('round-trips every metadata value type', async () => {
    const file = await readGguf(bytesSource(writeGguf({ metadata: every, tensors: [] }), 'm.gguf'));
    expect(file.version).toBe(3);
    expect(file.entries).toEqual(every);
    expect(file.metadata.get('u64')).toBe(2n ** 64n - 1n); // beyond 2^53: kept exact as a bigint
    expect(file.metadata.get('i64')).toBe(-5);
  });

  it('round-trips F32 exactly, F16 within half precision, Q8_0 within half a quantisation step', async () => {
    const random = prng(3);
    const a = randomFloats(4 * 64, random, 2);
    const bytes = writeGguf({
      metadata: [],
      tensors: [
        { name: 'f32', shape: [4, 64], dtype: 'F32', data: a },
        { name: 'f16', shape: [4, 64], dtype: 'F16', data: a },
        { name: 'q8', shape: [4, 64], dtype: 'Q8_0', data: a },
      ],
    });
    const file = await readGguf(bytesSource(bytes, 't.gguf'));
    expect(file.ggufTensors.map((t) => [t.name, t.ne, t.shape, t.dtype])).toEqual([
      ['f32', [64, 4], [4, 64], 'F32'],
      ['f16', [64, 4], [4, 64], 'F16'],
      ['q8', [64, 4], [4, 64], 'Q8_0'],
    ]);
    expect(await file.read('f32')).toEqual(a);
    const f16 = await file.read('f16');
    a.forEach((v, i) => expect(Math.abs(f16[i]! - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11));
    const q8 = await file.read('q8');
    for (let block = 0; block < a.length / 32; block++) {
      const values = a.subarray(block * 32, block * 32 + 32);
      const step = Math.max(...values.map(Math.abs)) / 127;
      values.forEach((v, i) =>
        expect(Math.abs(q8[block * 32 + i]! - v)).toBeLessThanOrEqual(step * 0.5 + 1e-3 * step * 127),
      );
    }
  });

  it('honours general.alignment and places data at aligned offsets', async () => {
    const bytes = writeGguf({
      metadata: [{ key: 'general.name', type: 'string', value: 'x' }],
      alignment: 64,
      tensors: [
        { name: 'a', shape: [3], dtype: 'F32', data: new Float32Array([1, 2, 3]) },
        { name: 'b', shape: [2], dtype: 'F32', data: new Float32Array([4, 5]) },
      ],
    });
    const file = await readGguf(bytesSource(bytes, 'a.gguf'));
    expect(file.alignment).toBe(64);
    expect(file.dataOffset % 64).toBe(0);
    expect(file.ggufTensors.map((t) => t.offset)).toEqual([0, 64]);
    expect(await file.read('b')).toEqual(new Float32Array([4, 5]));
  });

  it('reads the header in bounded chunks, not the whole file (stories260K)', async () => {
    const source = await openFileSource(storiesGguf);
    let largest = 0;
    const read = (offset: number, length: number): Promise<Uint8Array> => {
      largest = Math.max(largest, length);
      return source.read(offset, length);
    };
    const file = await readGguf({ ...source, read });
    expect(largest).toBeLessThanOrEqual(64 * 1024);
    expect(file.version).toBe(3);
    expect(file.tensors.length).toBe(48);
    expect(file.metadata.get('llama.block_count')).toBe(5);
    expect((file.metadata.get('tokenizer.ggml.tokens') as string[]).length).toBe(512);
    await source.close?.();
  });
});
