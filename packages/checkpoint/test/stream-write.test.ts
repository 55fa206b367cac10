import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readGguf, writeGguf, writeSafetensors, type GgufWriteTensor } from '@recur/checkpoint';
import { openFileSource, writeGgufFile, writeSafetensorsFile } from '@recur/checkpoint/node';
import { storiesGguf } from './stories.js';

const dir = await mkdtemp(join(tmpdir(), 'recur-stream-write-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

/** stories260K's own tensors and metadata, read back as plain arrays. */
async function stories(): Promise<{
  entries: Awaited<ReturnType<typeof readGguf>>['entries'];
  tensors: GgufWriteTensor[];
}> {
  const source = await openFileSource(storiesGguf);
  try {
    const gguf = await readGguf(source);
    const tensors: GgufWriteTensor[] = [];
    for (const t of gguf.ggufTensors)
      tensors.push({ name: t.name, shape: t.shape, dtype: 'F32', data: await gguf.read(t.name) });
    return { entries: gguf.entries, tensors };
  } finally {
    await source.close?.();
  }
}

const deferred = <T extends { data: Float32Array }>(t: T) => ({ ...t, data: async () => t.data });

describe('streamed writers', () => {
  it('write the same GGUF bytes as writeGguf (F32, Q8_0, alignment 64)', async () => {
    const { entries, tensors } = await stories();
    const q8 = tensors.map((t) =>
      t.shape.length === 2 && t.shape[1]! % 32 === 0 ? { ...t, dtype: 'Q8_0' as const } : t,
    );
    for (const [name, list, alignment] of [
      ['f32', tensors, undefined],
      ['q8', q8, 64],
    ] as const) {
      const path = join(dir, `${name}.gguf`);
      const options = { metadata: entries, ...(alignment ? { alignment } : {}) };
      const { bytes } = await writeGgufFile(path, { ...options, tensors: list.map(deferred) });
      const expected = writeGguf({ ...options, tensors: list });
      const actual = await readFile(path);
      expect(bytes).toBe(expected.byteLength);
      expect(Buffer.compare(actual, expected)).toBe(0);
    }
  });

  it('write the same safetensors bytes as writeSafetensors (F32, F16, BF16)', async () => {
    const { tensors } = await stories();
    const entries = tensors.map((t, i) => ({ ...t, dtype: (['F32', 'F16', 'BF16'] as const)[i % 3]! }));
    const path = join(dir, 'model.safetensors');
    await writeSafetensorsFile(path, entries.map(deferred), { producer: 'test' });
    const expected = writeSafetensors(entries, { producer: 'test' });
    expect(Buffer.compare(await readFile(path), expected)).toBe(0);
  });

  it('leave nothing behind when a tensor fails midway', async () => {
    const { entries, tensors } = await stories();
    const failing = tensors.map((t, i) =>
      i === 3
        ? {
            ...t,
            data: () => {
              throw new Error('source vanished');
            },
          }
        : deferred(t),
    );
    const sub = await mkdtemp(join(dir, 'fail-'));
    await expect(writeGgufFile(join(sub, 'out.gguf'), { metadata: entries, tensors: failing })).rejects.toThrow(
      'source vanished',
    );
    const f32 = tensors.map((t) => ({ ...t, dtype: 'F32' as const }));
    const short = f32.map((t, i) => (i === 2 ? { ...t, data: async () => t.data.subarray(1) } : deferred(t)));
    await expect(writeSafetensorsFile(join(sub, 'out.safetensors'), short)).rejects.toThrow(/values/);
    expect(await readdir(sub)).toEqual([]);
  });
});
