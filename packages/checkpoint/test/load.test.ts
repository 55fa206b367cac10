import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { blobSource, openCheckpoint, writeShardedSafetensors } from '@recur/checkpoint';
import { loadCheckpoint } from '@recur/checkpoint/node';
import { storiesGguf, storiesHf } from './stories.js';
import { tinyGguf, tinyHfConfigJson, tinyWeights } from './tiny-model.js';

const dir = mkdtempSync(join(tmpdir(), 'recur-load-'));

describe('loadCheckpoint: the ways a model can be pointed at', () => {
  it('a .safetensors file picks up config.json and the tokenizer beside it', async () => {
    const checkpoint = await loadCheckpoint(join(storiesHf, 'model.safetensors'));
    expect(checkpoint.format).toBe('safetensors');
    expect(checkpoint.tokenizer?.encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
    expect(checkpoint.has('model.layers.4.mlp.down_proj.weight')).toBe(true);
    expect(checkpoint.has('lm_head.weight')).toBe(false);
    await checkpoint.close();
  });

  it('a sharded folder, or its index file directly', async () => {
    const folder = join(dir, 'sharded');
    mkdirSync(folder);
    const weights = tinyWeights();
    const sharded = writeShardedSafetensors(
      weights.map((w) => ({ ...w, dtype: 'F32' as const })),
      { maxShardBytes: 2000 },
    );
    for (const shard of sharded.shards) writeFileSync(join(folder, shard.name), shard.bytes);
    writeFileSync(join(folder, 'model.safetensors.index.json'), JSON.stringify(sharded.index));
    writeFileSync(join(folder, 'config.json'), tinyHfConfigJson());
    for (const path of [folder, join(folder, 'model.safetensors.index.json')]) {
      const checkpoint = await loadCheckpoint(path);
      for (const w of weights) expect(await checkpoint.read(w.name)).toEqual(w.data);
      await checkpoint.close();
    }
  });

  it('a folder holding only a .gguf', async () => {
    const folder = join(dir, 'gguf-only');
    mkdirSync(folder);
    writeFileSync(join(folder, 'tiny.gguf'), tinyGguf());
    const checkpoint = await loadCheckpoint(folder);
    expect(checkpoint.format).toBe('gguf');
    expect(checkpoint.config.numLayers).toBe(1);
    expect(
      checkpoint.tokenizer?.encode('hello ab', { addBos: false }).map((id) => checkpoint.tokenizer?.tokenToPiece(id)),
    ).toEqual(['▁hello', '▁ab']);
    await checkpoint.close();
  });

  it('refuses to guess between two models of one kind', async () => {
    const folder = join(dir, 'two');
    mkdirSync(folder);
    writeFileSync(join(folder, 'a.gguf'), tinyGguf());
    writeFileSync(join(folder, 'b.gguf'), tinyGguf());
    await expect(loadCheckpoint(folder)).rejects.toMatchObject({ code: 'ambiguous-model' });
  });

  it('refuses a file of another kind', async () => {
    const file = join(dir, 'weights.bin');
    writeFileSync(file, 'x');
    await expect(loadCheckpoint(file)).rejects.toMatchObject({ code: 'unknown-format' });
  });

  it('a truncated safetensors beside a valid config names the weights file', async () => {
    const folder = join(dir, 'truncated');
    mkdirSync(folder);
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json'])
      copyFileSync(join(storiesHf, f), join(folder, f));
    writeFileSync(
      join(folder, 'model.safetensors'),
      readFileSync(join(storiesHf, 'model.safetensors')).subarray(0, 5000),
    );
    await expect(loadCheckpoint(folder)).rejects.toThrow(/model\.safetensors: tensor ".*" spans bytes/);
  });
});

describe('openCheckpoint from browser Files (Blob sources)', () => {
  it('opens the stories260K GGUF from a Blob exactly as loadCheckpoint does from disk', async () => {
    const blob = new Blob([readFileSync(storiesGguf)]);
    const fromBlob = await openCheckpoint([blobSource(blob, 'stories260K.gguf')]);
    const fromDisk = await loadCheckpoint(storiesGguf);
    expect(fromBlob.config).toEqual(fromDisk.config);
    expect(fromBlob.tensors).toEqual(fromDisk.tensors);
    expect(await fromBlob.read('model.layers.2.self_attn.k_proj.weight')).toEqual(
      await fromDisk.read('model.layers.2.self_attn.k_proj.weight'),
    );
    await fromDisk.close();
  });

  it('opens a HF folder dropped as Files', async () => {
    const files = [
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
      'generation_config.json',
    ].map((name) => blobSource(new Blob([readFileSync(join(storiesHf, name))]), `hf/${name}`));
    const checkpoint = await openCheckpoint(files, { path: 'hf' });
    expect(checkpoint.path).toBe('hf');
    expect(checkpoint.tokenizer?.decode(checkpoint.tokenizer.encode('One day, Lily met a cat.'))).toBe(
      'One day, Lily met a cat.',
    );
  });
});
