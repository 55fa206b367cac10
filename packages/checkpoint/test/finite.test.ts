import { describe, expect, it } from 'vitest';
import {
  bytesSource, CheckpointError, checkFinite, expectedTensors, hfToGgufName, openCheckpoint, writeGguf, writeSafetensors, writeShardedSafetensors,
  type GgufWriteTensor, type SafetensorsWriteEntry,
} from '@recur/checkpoint';
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
  const error = await readAll(files).then(() => undefined, (e: unknown) => e);
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
    const sharded = writeShardedSafetensors(poisoned(NaN).map((w) => ({ ...w, dtype: 'F32' as const })), { maxShardBytes: 600 });
    const shard = sharded.shards.find((s) => s.bytes.byteLength > 0 && Object.entries(sharded.index.weight_map).some(([n, f]) => n === victim && f === s.name))!;
    await expectRefused([
      text(tinyHfConfigJson(), 'dir/config.json'),
      text(JSON.stringify(sharded.index), 'dir/model.safetensors.index.json'),
      ...sharded.shards.map((s) => bytesSource(s.bytes, `dir/${s.name}`)),
    ], new RegExp(`^dir/${shard.name}: `), /NaN/);
  });

  for (const dtype of ['F32', 'F16', 'Q8_0'] as const) {
    it(`GGUF ${dtype}`, async () => {
      // Q8_0 needs rows of 32: a 32-wide variant of the tiny model (one Infinity makes its block scale infinite).
      const config = { ...tinyConfig, hiddenSize: 32, intermediateSize: 32, headDim: 16 };
      const sizes: Record<string, number> = { 'llama.embedding_length': 32, 'llama.feed_forward_length': 32, 'llama.rope.dimension_count': 16 };
      const metadata = tinyGgufMetadata().map((e) => (e.key in sizes ? { ...e, value: sizes[e.key]! } : e));
      const tensors = [...expectedTensors(config)].map(([name, shape], i): GgufWriteTensor => {
        const data = randomFloats(shape.reduce((a, b) => a * b, 1), prng(i));
        if (name === victim) data[0] = Infinity;
        return { name: hfToGgufName(name)!, shape, dtype: shape.length === 1 ? 'F32' : dtype, data };
      });
      await expectRefused([bytesSource(writeGguf({ metadata, tensors }), 'tiny.gguf')], /^tiny\.gguf: /, /\("blk\.0\.ffn_up\.weight"\) holds (NaN|Infinity) at \[0, 0\]/);
    });
  }

  it('checkFinite passes ordinary weights, subnormals and large-but-sane values', () => {
    expect(() => checkFinite('f', 't', new Float32Array([0, -0, 1e-40, -65504, 1e18, 3.4e-38]), [6])).not.toThrow();
    expect(() => checkFinite('f', 't', new Float32Array([1, 2 ** 64]), [2])).toThrow(/2\^64/);
  });
});
