import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@recur/tensor';
import { disposeModel, type ConvertOptions } from '../src/index.js';
import { convertToFolder, exportGguf, exportModel, loadModel } from '../src/node/index.js';
import { ggufPath, hfPath } from './stories260k.js';

const base = {
  loops: 2,
  strategy: 'middle-cycle',
  depthFit: 'floor',
  init: 'average',
  ranks: { attention: 8, mlp: 8 },
  loraInit: 'svd',
  loraScale: 1,
  norms: 'tied',
  seed: 0,
} as const satisfies ConvertOptions;

/** Converted stories260K models the exports start from (the settings of streamConvert.test.ts). */
const sources = {
  svd: { source: hfPath, options: base },
  perLoop: {
    source: ggufPath,
    options: { ...base, strategy: 'cycle', init: 'stepwise', ranks: { attention: 4, mlp: 0 }, norms: 'per-loop' },
  },
  zero: {
    source: hfPath,
    options: { ...base, loops: 3, strategy: 'sequence', depthFit: 'round', init: 'random', loraInit: 'zero', seed: 7 },
  },
} as const satisfies Record<string, { source: string; options: ConvertOptions }>;

/** SHA-256 of what `recur export` wrote from those models before export was streamed. */
const cases = [
  {
    name: 'HF folder, LoRA merged',
    from: 'svd',
    kind: 'hf',
    lora: 'merge',
    file: 'model.safetensors',
    sha256: '571231c7cb35d96e50f0dcc332fb45bba398323d954e8f77d73ff3b2ae697ff2',
  },
  {
    name: 'HF folder, PEFT base',
    from: 'svd',
    kind: 'hf',
    lora: 'peft',
    file: 'model.safetensors',
    sha256: '6878b347efdf32a8d8de8f9fabfd0561f50ae60232e0d0a5d2491c08c7cf35e4',
  },
  {
    name: 'PEFT adapter',
    from: 'svd',
    kind: 'hf',
    lora: 'peft',
    file: 'adapter/adapter_model.safetensors',
    sha256: '97e9ddfac43338066ae2ed31627a4bb1cf682340ffca22a7b0a194350ee1f486',
  },
  {
    name: 'GGUF F32, merged',
    out: 'e1',
    from: 'svd',
    kind: 'gguf',
    lora: 'merge',
    dtype: 'F32',
    sha256: '3e3dc6c7fe87b0556d94378f980d92dcf490df7b58ce14d4714dd25232b2b17a',
  },
  {
    name: 'GGUF Q8_0, LoRA dropped',
    out: 'e2',
    from: 'perLoop',
    kind: 'gguf',
    lora: 'drop',
    dtype: 'Q8_0',
    sha256: 'f89bc669387878f7b71d2ce16740de411dd0c6a8d8e40665656d22046a4fafb5',
  },
  {
    name: 'GGUF F32, zero-init LoRA merged',
    out: 'e5',
    from: 'zero',
    kind: 'gguf',
    lora: 'merge',
    dtype: 'F32',
    sha256: '9ff878c3652d6220fe49185c14bef46828b9c77b61663221be547fed89c96efb',
  },
  {
    name: 'plain GGUF → HF folder',
    from: 'plain',
    kind: 'hf',
    lora: 'merge',
    file: 'model.safetensors',
    sha256: '4b61b779a930acaeb567c461694655edc6bf28e1e1c7ba2c47fc81367fe08bf4',
  },
] as const;

const sha256 = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

describe('streamed export', () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend();
    dir = await mkdtemp(join(tmpdir(), 'recur-stream-export-'));
    for (const [name, { source, options }] of Object.entries(sources))
      await convertToFolder(source, join(dir, name), options);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each(cases)('writes the same bytes as before: $name', async (c) => {
    const model = await loadModel(c.from === 'plain' ? ggufPath : join(dir, c.from));
    const out = join(dir, `out-${c.name.replace(/\W+/g, '-')}`);
    try {
      if (c.kind === 'gguf') {
        const file = join(dir, `${c.out}.gguf`); // the file's name is its general.name
        await exportGguf(model, file, { dtype: c.dtype, lora: c.lora });
        expect(await sha256(file)).toBe(c.sha256);
      } else {
        await exportModel(model, out, { lora: c.lora });
        expect(await sha256(join(out, c.file))).toBe(c.sha256);
      }
    } finally {
      disposeModel(model);
    }
  });
});
