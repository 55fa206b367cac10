import { describe, expect, it } from 'vitest';
import {
  bytesSource,
  openCheckpoint,
  openSafetensors,
  openShardedSafetensors,
  parseSafetensorsIndex,
  writeSafetensors,
  writeShardedSafetensors,
  type FloatDtype,
} from '@recur/checkpoint';
import { prng, randomFloats, tinyHfConfigJson, tinyWeights } from './tiny-model.js';

const text = (s: string, name: string) => bytesSource(new TextEncoder().encode(s), name);

/** Largest relative error of rounding to each format: half has 11 significant bits, bfloat16 8. */
const relativeTolerance: Record<FloatDtype, number> = { F32: 0, F16: 2 ** -11, BF16: 2 ** -8 };

describe('safetensors write → read', () => {
  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    it(`round-trips ${dtype} within its precision`, async () => {
      const random = prng(1);
      const a = randomFloats(6 * 5, random, 3);
      const b = randomFloats(7, random, 0.01);
      const bytes = writeSafetensors(
        [
          { name: 'a', shape: [6, 5], dtype, data: a },
          { name: 'b', shape: [7], dtype, data: b },
        ],
        { note: 'hello' },
      );
      const file = await openSafetensors(bytesSource(bytes, 'x.safetensors'));
      expect(file.metadata).toEqual({ note: 'hello' });
      expect(file.tensors).toEqual([
        { name: 'a', shape: [6, 5], dtype },
        { name: 'b', shape: [7], dtype },
      ]);
      for (const [name, want] of [
        ['a', a],
        ['b', b],
      ] as const) {
        const got = await file.read(name);
        expect(got.length).toBe(want.length);
        want.forEach((w, i) =>
          expect(Math.abs(got[i]! - w)).toBeLessThanOrEqual(Math.abs(w) * relativeTolerance[dtype]),
        );
      }
    });
  }

  it('pads the header with spaces to a multiple of 8 and packs data without gaps', () => {
    const bytes = writeSafetensors([{ name: 'odd', shape: [3], dtype: 'F16', data: new Float32Array([1, 2, 3]) }]);
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
    expect(header.trimEnd()).toBe('{"odd":{"dtype":"F16","shape":[3],"data_offsets":[0,6]}}');
    expect(bytes.byteLength).toBe(8 + headerLength + 6);
  });

  it('keeps exact values, -0, infinities and NaN in F32; F16 saturates to ±Infinity past 65504', async () => {
    const data = new Float32Array([0, -0, 1e-40, 3.4e38, Infinity, -Infinity, NaN, 70000]);
    const f32 = await (
      await openSafetensors(bytesSource(writeSafetensors([{ name: 'x', shape: [8], dtype: 'F32', data }]), 'f'))
    ).read('x');
    expect(Array.from(f32)).toEqual(Array.from(data));
    const f16 = await (
      await openSafetensors(bytesSource(writeSafetensors([{ name: 'x', shape: [8], dtype: 'F16', data }]), 'f'))
    ).read('x');
    expect(Array.from(f16.subarray(4))).toEqual([Infinity, -Infinity, NaN, Infinity]);
    expect(Object.is(f16[1], -0)).toBe(true);
  });

  it('reads a tensor without reading the others (random access by offset)', async () => {
    const bytes = writeSafetensors([
      { name: 'big', shape: [1000], dtype: 'F32', data: new Float32Array(1000) },
      { name: 'small', shape: [2], dtype: 'F32', data: new Float32Array([5, 6]) },
    ]);
    const reads: [number, number][] = [];
    const source = bytesSource(bytes, 'f');
    const spy = {
      ...source,
      read: (offset: number, length: number) => {
        reads.push([offset, length]);
        return source.read(offset, length);
      },
    };
    const file = await openSafetensors(spy);
    expect(await file.read('small')).toEqual(new Float32Array([5, 6]));
    expect(reads.map(([, length]) => length)).not.toContain(4000 + 8);
    expect(Math.max(...reads.map(([, length]) => length))).toBeLessThan(200);
  });
});

describe('sharded safetensors', () => {
  const weights = tinyWeights().map((w) => ({ ...w, dtype: 'F32' as const }));
  const sharded = writeShardedSafetensors(weights, { maxShardBytes: 600 });
  const shardSources = () => sharded.shards.map((s) => bytesSource(s.bytes, `dir/${s.name}`));

  it('splits into several shards and reads every tensor back exactly', async () => {
    expect(sharded.shards.length).toBeGreaterThan(2);
    expect(sharded.shards[0]!.name).toBe(
      `model-00001-of-${String(sharded.shards.length).padStart(5, '0')}.safetensors`,
    );
    const index = parseSafetensorsIndex('index.json', JSON.parse(JSON.stringify(sharded.index)));
    const store = await openShardedSafetensors('index.json', index, shardSources());
    expect(store.tensors.map((t) => t.name)).toEqual(weights.map((w) => w.name));
    for (const w of weights) expect(await store.read(w.name)).toEqual(w.data);
  });

  it('opens as a checkpoint from config.json + index + shards', async () => {
    const checkpoint = await openCheckpoint(
      [
        text(tinyHfConfigJson(), 'dir/config.json'),
        text(JSON.stringify(sharded.index), 'dir/model.safetensors.index.json'),
        ...shardSources(),
      ],
      { path: 'dir' },
    );
    expect(checkpoint.format).toBe('safetensors');
    expect(checkpoint.tokenizer).toBeNull();
    expect(await checkpoint.read('model.norm.weight')).toEqual(
      weights.find((w) => w.name === 'model.norm.weight')!.data,
    );
    await checkpoint.close();
  });

  it('refuses an index naming a shard that was not given', async () => {
    const index = parseSafetensorsIndex('index.json', sharded.index);
    await expect(openShardedSafetensors('index.json', index, shardSources().slice(1))).rejects.toMatchObject({
      code: 'missing-shard',
    });
  });

  it('refuses an index putting a tensor in a shard that lacks it', async () => {
    const map = {
      ...sharded.index.weight_map,
      'model.norm.weight': sharded.shards[0]!.name,
      extra: sharded.shards[0]!.name,
    };
    const index = parseSafetensorsIndex('index.json', { weight_map: map });
    const error = await openShardedSafetensors('index.json', index, shardSources()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'missing-tensor' });
  });
});
