import { describe, expect, it } from 'vitest';
import {
  bytesSource,
  CheckpointError,
  checkFinite,
  expectedTensors,
  firstNonFinite,
  hfToGgufName,
  openCheckpoint,
  writeGguf,
  writeSafetensors,
  writeShardedSafetensors,
  type GgufWriteTensor,
  type SafetensorsWriteEntry,
} from '@recur/checkpoint';
import { simdChunkBytes, simdScanner } from '../src/checkpoint/finite-simd.js';
import { prng, randomFloats, tinyConfig, tinyGgufMetadata, tinyHfConfigJson, tinyWeights } from './tiny-model.js';

const victim = 'model.layers.0.mlp.up_proj.weight'; // [12, 8]
const text = (s: string, name: string) => bytesSource(new TextEncoder().encode(s), name);

/** The tiny model with one value of one tensor replaced. */
function poisoned(value: number, at = 29): { name: string; shape: number[]; data: Float32Array }[] {
  return tinyWeights().map((w) => {
    if (w.name !== victim) return w;
    const data = w.data.slice();
    data[at] = value;
    return { ...w, data };
  });
}

async function readAll(files: Parameters<typeof openCheckpoint>[0]): Promise<void> {
  const checkpoint = await openCheckpoint(files);
  try {
    for (const t of checkpoint.tensors) await checkpoint.read(t.name);
  } finally {
    await checkpoint.close();
  }
}

async function expectRefused(files: Parameters<typeof openCheckpoint>[0], file: RegExp, what: RegExp): Promise<void> {
  const error = await readAll(files).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CheckpointError);
  expect((error as CheckpointError).code).toBe('non-finite');
  expect((error as Error).message).toMatch(file);
  expect((error as Error).message).toContain(`"${victim}"`);
  expect((error as Error).message).toMatch(what);
  expect((error as Error).message).not.toContain('\n');
}

const hf = (dtype: SafetensorsWriteEntry['dtype'], value: number) => [
  text(tinyHfConfigJson(), 'dir/config.json'),
  bytesSource(writeSafetensors(poisoned(value).map((w) => ({ ...w, dtype }))), 'dir/model.safetensors'),
];

describe('loading refuses non-finite and overflowing weights, naming the file and tensor', () => {
  it('NaN, ±Infinity and ±3e38 in F32 safetensors', async () => {
    await expectRefused(hf('F32', NaN), /^dir\/model\.safetensors: /, /NaN at \[3, 5\]/);
    await expectRefused(hf('F32', Infinity), /model\.safetensors/, /Infinity at \[3, 5\]/);
    await expectRefused(hf('F32', -3e38), /model\.safetensors/, /-3\.0+e\+38 at \[3, 5\].*2\^64/);
  });

  it('F16 overflow to Infinity and BF16 NaN are caught after conversion to float32', async () => {
    await expectRefused(hf('F16', 70000), /model\.safetensors/, /Infinity/);
    await expectRefused(hf('BF16', NaN), /model\.safetensors/, /NaN/);
  });

  it('a sharded checkpoint names the shard that holds the tensor', async () => {
    const sharded = writeShardedSafetensors(
      poisoned(NaN).map((w) => ({ ...w, dtype: 'F32' as const })),
      { maxShardBytes: 600 },
    );
    const shard = sharded.shards.find(
      (s) =>
        s.bytes.byteLength > 0 &&
        Object.entries(sharded.index.weight_map).some(([n, f]) => n === victim && f === s.name),
    )!;
    await expectRefused(
      [
        text(tinyHfConfigJson(), 'dir/config.json'),
        text(JSON.stringify(sharded.index), 'dir/model.safetensors.index.json'),
        ...sharded.shards.map((s) => bytesSource(s.bytes, `dir/${s.name}`)),
      ],
      new RegExp(`^dir/${shard.name}: `),
      /NaN/,
    );
  });

  for (const dtype of ['F32', 'F16', 'Q8_0'] as const) {
    it(`GGUF ${dtype}`, async () => {
      // Q8_0 needs rows of 32: a 32-wide variant of the tiny model (one Infinity makes its block scale infinite).
      const config = { ...tinyConfig, hiddenSize: 32, intermediateSize: 32, headDim: 16 };
      const sizes: Record<string, number> = {
        'llama.embedding_length': 32,
        'llama.feed_forward_length': 32,
        'llama.rope.dimension_count': 16,
      };
      const metadata = tinyGgufMetadata().map((e) => (e.key in sizes ? { ...e, value: sizes[e.key]! } : e));
      const tensors = [...expectedTensors(config)].map(([name, shape], i): GgufWriteTensor => {
        const data = randomFloats(
          shape.reduce((a, b) => a * b, 1),
          prng(i),
        );
        if (name === victim) data[0] = Infinity;
        return { name: hfToGgufName(name)!, shape, dtype: shape.length === 1 ? 'F32' : dtype, data };
      });
      await expectRefused(
        [bytesSource(writeGguf({ metadata, tensors }), 'tiny.gguf')],
        /^tiny\.gguf: /,
        /\("blk\.0\.ffn_up\.weight"\) holds (NaN|Infinity) at \[0, 0\]/,
      );
    });
  }

  it('the WebAssembly SIMD kernel compiles here and flags exactly the values at or above its limit', () => {
    const scan = simdScanner((127 + 64) << 23);
    expect(scan).toBeDefined();
    const chunk = new Float32Array(simdChunkBytes / 4).fill(1e19);
    const bytes = new Uint8Array(chunk.buffer);
    expect(scan!(bytes)).toBe(false);
    chunk[chunk.length - 1] = -(2 ** 64);
    expect(scan!(bytes)).toBe(true);
    expect(scan!(bytes.subarray(0, 16))).toBe(false);
  });

  it('firstNonFinite finds the first bad value wherever it is (SIMD chunks, chunk edges, the unaligned tail)', () => {
    const random = prng(5);
    for (const length of [1, 3, 4, 17, 65536, 65536 + 3, 3 * 65536 + 7]) {
      const data = randomFloats(length, random);
      expect(firstNonFinite(data)).toBe(-1);
      for (const at of [0, length - 1, Math.floor(length / 2), 65535, 65536]) {
        if (at >= length) continue;
        for (const bad of [NaN, -Infinity, 2 ** 64, -3e38]) {
          const copy = data.slice();
          copy[at] = bad;
          if (at + 1 < length) copy[length - 1] = Infinity; // a later bad value must not win
          expect(firstNonFinite(copy)).toBe(at);
          expect(firstNonFinite(copy.subarray(at))).toBe(0); // a view at an offset
        }
      }
    }
  });

  it('checkFinite passes ordinary weights, subnormals and large-but-sane values', () => {
    expect(() => checkFinite('f', 't', new Float32Array([0, -0, 1e-40, -65504, 1e18, 3.4e-38]), [6])).not.toThrow();
    expect(() => checkFinite('f', 't', new Float32Array([1, 2 ** 64]), [2])).toThrow(/2\^64/);
  });
});
