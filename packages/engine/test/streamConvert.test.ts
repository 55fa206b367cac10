import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@recur/tensor';
import { convertModel, defaultMosSettings, disposeModel, type ConvertOptions } from '../src/index.js';
import { convertToFolder, loadModel, saveConvertedModel } from '../src/node/index.js';
import { ggufPath, hfPath } from './stories260k.js';

const defaults = {
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

/** `recur convert`'s defaults. */
const cliDefaults = { ...defaults, strategy: 'cycle', init: 'stepwise' } as const satisfies ConvertOptions;

/**
 * model.safetensors of `recur convert` on stories260K as the in-memory converter wrote it before
 * conversion was streamed (SHA-256 of the CLI's output with these settings).
 */
const cases: readonly { name: string; source: string; options: ConvertOptions; sha256: string }[] = [
  {
    name: 'hf, middle-cycle ×2, average, SVD rank 8',
    source: hfPath,
    options: defaults,
    sha256: 'e70b252b194e383b41125f86610d2d30682ec39f519591228f31f4ca0d28b929',
  },
  {
    name: 'gguf, cycle ×2, stepwise, attention rank 4 only, per-loop norms',
    source: ggufPath,
    options: { ...defaults, strategy: 'cycle', init: 'stepwise', ranks: { attention: 4, mlp: 0 }, norms: 'per-loop' },
    sha256: '4cbf23178f0247adf0ff78f896f12bdf119f7fd529e4cacd636dfc69d54e44bf',
  },
  {
    name: 'hf, sequence ×3 (round), random init, zero-init LoRA, seed 7',
    source: hfPath,
    options: {
      ...defaults,
      loops: 3,
      strategy: 'sequence',
      depthFit: 'round',
      init: 'random',
      loraInit: 'zero',
      seed: 7,
    },
    sha256: '9b4dcaad62d608bbabbcf2920da2b058be608ccfc992fe441a5b7c655ca91b80',
  },
  // The LoRA kinds, as `recur convert --loops N --lora-kind K` wrote them before the two converters
  // became one plan (hyper and scaled then converted in memory only; hyper then always started at zero).
  {
    name: 'hf, cycle ×2, stepwise, mos',
    source: hfPath,
    options: { ...cliDefaults, loraKind: 'mos', mos: { ...defaultMosSettings, seed: 0 } },
    sha256: '7433612eacbcd1a1671cc05f0c1bf7fc0a52292090f7c63025c58d5fe727cba0',
  },
  {
    name: 'hf, cycle ×2, stepwise, hyper H 8',
    source: hfPath,
    options: { ...cliDefaults, loraInit: 'zero', loraKind: 'hyper', hyper: { hyperDim: 8 } },
    sha256: 'd115f648d1e50646e15ef493418a67621d01d9b7f43acc32669528d323b5683a',
  },
  {
    // hyper's generators fitted to the SVD factors (the default since the sharing experiment): pinned when
    // that fit landed, after the converters became one
    name: 'hf, cycle ×2, stepwise, hyper H 8, SVD-fitted generators',
    source: hfPath,
    options: { ...cliDefaults, loraKind: 'hyper', hyper: { hyperDim: 8 } },
    sha256: '0c6a1b5d39f89b9a5b51727e80d8bb214dfef9a012ade789228987b5060266a7',
  },
  {
    name: 'hf, middle-cycle ×3, stepwise, hyper H 4, per-loop norms',
    source: hfPath,
    options: {
      ...cliDefaults,
      loops: 3,
      strategy: 'middle-cycle',
      norms: 'per-loop',
      loraInit: 'zero',
      loraKind: 'hyper',
      hyper: { hyperDim: 4 },
    },
    sha256: 'e0b6352b64147e88b7fb7ba80cab9d7c30de623ee0a7d9feef9b185259747f09',
  },
  {
    name: 'hf, cycle ×2, stepwise, scaled (SVD start)',
    source: hfPath,
    options: { ...cliDefaults, loraKind: 'scaled' },
    sha256: 'a537620ad34d8241863c9992fb979f1a88b00f400675172e8fa49db5411707ef',
  },
  {
    name: 'hf, cycle ×3, stepwise, scaled ranks 2/4, per-loop norms',
    source: hfPath,
    options: { ...cliDefaults, loops: 3, norms: 'per-loop', ranks: { attention: 2, mlp: 4 }, loraKind: 'scaled' },
    sha256: 'fe279fcdc92ef64b3f3a1bcc63132c3bba55ac9e255c1667088a923b34b81ee7',
  },
];

const sha256 = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

/** A safetensors file's tensors by name (their raw bytes), whatever their order in the file. */
async function tensorBytes(path: string): Promise<Map<string, Buffer>> {
  const file = await readFile(path);
  const headerLength = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8')) as Record<
    string,
    { data_offsets?: [number, number] }
  >;
  const start = 8 + headerLength;
  const out = new Map<string, Buffer>();
  for (const [name, { data_offsets: offsets }] of Object.entries(header))
    if (offsets) out.set(name, file.subarray(start + offsets[0], start + offsets[1]));
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

describe('streamed convert', () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend();
    dir = await mkdtemp(join(tmpdir(), 'recur-stream-convert-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each(cases)(
    'writes the same folder as the in-memory converter: $name',
    async ({ source, options, sha256: want }) => {
      const streamed = join(dir, 'streamed');
      const summary = await convertToFolder(source, streamed, { ...options, force: true });
      expect(await sha256(join(streamed, 'model.safetensors'))).toBe(want);
      const original = await loadModel(source);
      const model = await convertModel(original, options);
      const memory = join(dir, 'memory');
      await saveConvertedModel(model, memory, { force: true });
      for (const file of await readdir(memory)) {
        // saveModel writes a MoS model's norms after its pools, the stream before them: same tensors, other order
        if (file === 'model.safetensors' && options.loraKind === 'mos')
          expect(await tensorBytes(join(streamed, file))).toEqual(await tensorBytes(join(memory, file)));
        else
          expect(Buffer.compare(await readFile(join(streamed, file)), await readFile(join(memory, file))), file).toBe(
            0,
          );
      }
      expect(summary.parameters).toEqual(model.parameters);
      expect(summary.loraEnergy).toEqual(model.loraEnergy);
      expect(summary.bytes).toBe((await readFile(join(memory, 'model.safetensors'))).byteLength);
      disposeModel(model);
      disposeModel(original);
    },
  );

  it('refuses a converted model as the source, and leaves no output behind', async () => {
    const converted = join(dir, 'converted');
    await convertToFolder(hfPath, converted, { ...defaults, force: true });
    const out = join(dir, 'again');
    await expect(convertToFolder(converted, out, defaults)).rejects.toThrow(/already recursive/);
    expect((await readdir(dir)).filter((name) => name.includes('again'))).toEqual([]);
  });
});
