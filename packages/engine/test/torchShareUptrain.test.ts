import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { masaModules } from '@recur/sharing';
import { initBackend } from '@recur/tensor';
import { convertMasa, convertModel, disposeModel, type LoadedModel } from '../src/index.js';
import { exportTorch, loadModel } from '../src/node/index.js';
import { corpusPath, hfPath } from './stories260k.js';
import { torchPython } from './torch/python.js';

// uptrain_recur.py --trainable shared+lora on each shared form (issue 17 through PyTorch): a few steps train the
// form's own stored tensors (scaled: templates and scales; hyper: generators and embeddings; MoS: pools; MASA:
// atoms and coefficients), the index tables stay as they were, and Recur reloads the folder in the same form.
const python = torchPython();

const looped = {
  strategy: 'middle-cycle',
  loops: 2,
  init: 'stepwise',
  ranks: { attention: 2, mlp: 2 },
  norms: 'tied',
} as const;
/** [name, conversion, tensors that must train (by name pattern), tensors that must not move]. */
const kinds: [string, (s: LoadedModel) => Promise<LoadedModel>, RegExp, RegExp | null][] = [
  [
    'scaled',
    (s) => convertModel(s, { ...looped, loraKind: 'scaled', loraInit: 'svd' }),
    /\.lora_[AB]\.template\.weight$|\.lora_scale\.weight$/,
    null,
  ],
  [
    'hyper',
    (s) => convertModel(s, { ...looped, loraKind: 'hyper', loraInit: 'zero', hyper: { hyperDim: 2 } }),
    /\.lora_hyper\./,
    null,
  ],
  [
    'mos',
    (s) =>
      convertModel(s, {
        ...looped,
        loraKind: 'mos',
        loraInit: 'zero',
        mos: { pool: 8, shards: 2, private: 0.25, subset: true, dissociation: true, seed: 1 },
      }),
    /^mos\..*\.pool$/, // A's pool moves from step 2 on (no gradient while every B is zero)
    /^mos\..*\.index_[AB]$/,
  ],
  ['masa', (s) => convertMasa(s, { atoms: 2, modules: masaModules }), /^masa\./, null],
];

describe.skipIf(!python)('uptrain_recur.py trains each shared form in its stored form; Recur reloads it', () => {
  let dir = '';
  let source: LoadedModel;
  beforeAll(async () => {
    await initBackend();
    dir = await mkdtemp(join(tmpdir(), 'recur-torchshare-up-'));
    source = await loadModel(hfPath);
    const text = (await readFile(corpusPath('tinystories_val/tinystories_val.txt'), 'utf8')).slice(0, 3000);
    await writeFile(join(dir, 'tokens.json'), JSON.stringify(source.tokenizer.encode(text, { addBos: true })));
  });
  afterAll(async () => {
    disposeModel(source);
    await rm(dir, { recursive: true, force: true });
  });

  it.each(kinds)(
    '%s: 3 steps of shared+lora change its own tensors, finite, and reload',
    async (name, convert, trains, fixed) => {
      const model = await convert(source);
      await exportTorch(model, join(dir, name));
      disposeModel(model);
      const args = ['--model', join(dir, name), '--tokens', join(dir, 'tokens.json'), '--out', join(dir, `${name}-up`)];
      const settings = ['--steps', '3', '--batch', '2', '--seq', '16', '--lr', '0.01', '--trainable', 'shared+lora'];
      const run = spawnSync(python!, [join(dir, name, 'uptrain_recur.py'), ...args, ...settings, '--threads', '1'], {
        encoding: 'utf8',
        env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
      });
      expect(run.status, run.stderr.slice(-2000)).toBe(0);

      const before = await storedTensors(join(dir, name));
      const after = await storedTensors(join(dir, `${name}-up`));
      expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
      const own = [...before.keys()].filter((key) => trains.test(key));
      expect(own.length).toBeGreaterThan(0);
      for (const key of own) {
        expect(after.get(key)!.every(Number.isFinite), key).toBe(true);
        expect(
          after.get(key)!.some((x, i) => x !== before.get(key)![i]),
          `${key} trained`,
        ).toBe(true);
      }
      for (const key of [...before.keys()].filter((k) => fixed?.test(k)))
        expect(Array.from(after.get(key)!), `${key} kept`).toEqual(Array.from(before.get(key)!));
      const back = await loadModel(join(dir, `${name}-up`));
      expect(Boolean(back.generatedLora ?? back.mos ?? back.masa), 'reloaded in its stored form').toBe(true);
      disposeModel(back);
    },
  );
});

/** The float32 tensors of a folder's model.safetensors by name (Recur's writer and modeling_recur.py's write only F32). */
async function storedTensors(folder: string): Promise<Map<string, Float32Array>> {
  const bytes = await readFile(join(folder, 'model.safetensors'));
  const size = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + size).toString('utf8')) as Record<
    string,
    { dtype: string; data_offsets: [number, number] }
  >;
  const out = new Map<string, Float32Array>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    expect(info.dtype, name).toBe('F32');
    const [start, end] = info.data_offsets;
    out.set(
      name,
      new Float32Array(bytes.buffer.slice(bytes.byteOffset + 8 + size + start, bytes.byteOffset + 8 + size + end)),
    );
  }
  return out;
}
