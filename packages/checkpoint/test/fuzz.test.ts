import { describe, expect, it } from 'vitest';
import {
  bytesSource,
  isCheckpointFault,
  openCheckpoint,
  openSafetensors,
  readGguf,
  writeSafetensors,
  type TensorInfo,
} from '@recur/checkpoint';
import { prng, tinyGguf } from './tiny-model.js';

type Random = () => number;
/** FUZZ_CASES / FUZZ_SEED let a long exploratory run reuse this file; the defaults are what CI runs. */
const cases = Number(process.env.FUZZ_CASES ?? 2500);
const seedOffset = Number(process.env.FUZZ_SEED ?? 0);
const int = (random: Random, n: number): number => Math.floor(random() * n);

const bigValues = [2n ** 60n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 32n - 1n, 2n ** 53n, 2n ** 31n, 0n, 1n];

/** Offsets in the first `limit` bytes whose u64 looks like a count or length (1..1e5). */
function lengthFields(bytes: Uint8Array, limit: number): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const found: number[] = [];
  for (let i = 0; i + 8 <= Math.min(limit, bytes.byteLength); i++) {
    const v = view.getBigUint64(i, true);
    if (v >= 1n && v <= 100000n) found.push(i);
  }
  return found;
}

/** One random corruption; positions favour the header, where the parser's decisions are. */
function mutate(input: Uint8Array, random: Random, headerEnd: number, counts: readonly number[]): Uint8Array {
  const bytes = input.slice();
  const at = random() < 0.8 ? int(random, headerEnd) : int(random, bytes.byteLength);
  switch (int(random, 6)) {
    case 0: // bit flip
      bytes[at] = bytes[at]! ^ (1 << int(random, 8));
      return bytes;
    case 1: // random byte
      bytes[at] = int(random, 256);
      return bytes;
    case 2: // truncation
      return bytes.subarray(0, int(random, bytes.byteLength));
    case 3: {
      // inserted bytes
      const extra = Uint8Array.from({ length: 1 + int(random, 8) }, () => int(random, 256));
      const out = new Uint8Array(bytes.byteLength + extra.byteLength);
      out.set(bytes.subarray(0, at));
      out.set(extra, at);
      out.set(bytes.subarray(at), at + extra.byteLength);
      return out;
    }
    case 4: {
      // a big value written into a length field
      const field = counts.length > 0 && random() < 0.8 ? counts[int(random, counts.length)]! : at;
      if (field + 8 <= bytes.byteLength)
        new DataView(bytes.buffer).setBigUint64(field, bigValues[int(random, bigValues.length)]!, true);
      return bytes;
    }
    default: {
      // several byte flips
      for (let i = 0; i < 4; i++) bytes[int(random, headerEnd)] = int(random, 256);
      return bytes;
    }
  }
}

/** Opening either works and every tensor reads back with its declared size, or fails with our error. */
async function expectConsistentOrTyped(
  run: () => Promise<{ tensors: readonly TensorInfo[]; read(name: string): Promise<Float32Array> }>,
): Promise<'ok' | 'refused'> {
  try {
    const store = await run();
    for (const t of store.tensors) {
      const data = await store.read(t.name);
      const elements = t.shape.reduce((a, b) => a * b, 1);
      expect(Number.isSafeInteger(elements)).toBe(true);
      expect(data.length).toBe(elements);
    }
    return 'ok';
  } catch (error) {
    if (isCheckpointFault(error)) return 'refused';
    throw error;
  }
}

/** A safetensors header with a few numbers replaced by hostile ones (length prefix kept right). */
function mutateJsonNumbers(file: Uint8Array, random: Random): Uint8Array {
  const length = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const header = new TextDecoder().decode(file.subarray(8, 8 + length));
  const hostile = ['-1', '1.5', '1e400', '18446744073709551616', '9007199254740993', '0', '4', 'null', '"8"', '[]'];
  const numbers = [...header.matchAll(/\d+/g)];
  const pick = numbers[int(random, numbers.length)]!;
  const changed =
    header.slice(0, pick.index) + hostile[int(random, hostile.length)]! + header.slice(pick.index! + pick[0].length);
  const json = new TextEncoder().encode(changed);
  const out = new Uint8Array(8 + json.byteLength + file.byteLength - 8 - length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(file.subarray(8 + length), 8 + json.byteLength);
  return out;
}

describe('fuzz: mutated files either open consistently or throw CheckpointError/ConfigError', () => {
  it(`${cases} mutations of a small safetensors file`, async () => {
    const random = prng(20241126 + seedOffset);
    const values = (n: number) => Float32Array.from({ length: n }, (_, i) => i / 7 - 1);
    const file = writeSafetensors(
      [
        { name: 'a', shape: [3, 4], dtype: 'F32', data: values(12) },
        { name: 'b', shape: [5], dtype: 'F16', data: values(5) },
        { name: 'c', shape: [2, 2, 2], dtype: 'BF16', data: values(8) },
      ],
      { format: 'pt' },
    );
    const headerEnd = 8 + Number(new DataView(file.buffer).getBigUint64(0, true));
    const tally = { ok: 0, refused: 0 };
    for (let i = 0; i < cases; i++) {
      const bytes = random() < 0.3 ? mutateJsonNumbers(file, random) : mutate(file, random, headerEnd, [0]);
      tally[await expectConsistentOrTyped(() => openSafetensors(bytesSource(bytes, `fuzz-${i}.safetensors`)))]++;
    }
    if (process.env.FUZZ_VERBOSE) console.log(tally);
    expect(tally.ok + tally.refused).toBe(cases);
    expect(tally.refused).toBeGreaterThan(cases * 0.4);
    expect(tally.ok).toBeGreaterThan(cases * 0.01);
  });

  it(`${cases} mutations of a small GGUF checkpoint (header, config, tokenizer, tensors)`, async () => {
    const random = prng(42 + seedOffset);
    const file = tinyGguf();
    const { dataOffset } = await readGguf(bytesSource(file, 'valid.gguf')); // header = everything before the data
    const counts = lengthFields(file, dataOffset);
    const tally = { ok: 0, refused: 0 };
    for (let i = 0; i < cases; i++) {
      const bytes = mutate(file, random, dataOffset, counts);
      tally[
        await expectConsistentOrTyped(async () => {
          const checkpoint = await openCheckpoint([bytesSource(bytes, `fuzz-${i}.gguf`)]);
          const ids = checkpoint.tokenizer?.encode('hello abc 😀') ?? [];
          expect(ids.every((id) => Number.isInteger(id) && id >= 0 && id < checkpoint.config.vocabSize)).toBe(true);
          return checkpoint;
        })
      ]++;
    }
    if (process.env.FUZZ_VERBOSE) console.log(tally);
    expect(tally.ok + tally.refused).toBe(cases);
    expect(tally.refused).toBeGreaterThan(cases * 0.4);
    expect(tally.ok).toBeGreaterThan(cases * 0.01);
  });
});
