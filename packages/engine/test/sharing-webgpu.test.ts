import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { masaModules } from '@recur/sharing';
import { activeBackend, initBackend, tf } from '@recur/tensor';
import {
  convertMasa,
  defaultMosSettings,
  disposeModel,
  generate,
  type ConvertOptions,
  type LoadedModel,
} from '../src/index.js';
import { convertToFolder, loadModel, saveModel, trainableModel } from '../src/node/index.js';
import { maxAbs, maxAbsDiff, ref } from './logits.js';
import { hfPath } from './stories260k.js';
import { runWebGpuSuite, startNodeWebGpu } from './webgpuNode.js';

// Issue 17 leftovers: the sharing folders (MoS, hyper and scaled LoRA, MASA) run on the WebGPU executor
// (Dawn in Node; the playground's backend) as they do on wasm: each is materialised once at load, so the
// tfjs decoder and the WGSL kernels run plain per-loop LoRA / per-layer matrices. SwiftShader runs at
// ≈1 GFLOP/s here: two loops and a few greedy tokens keep it to about a minute.
const greedyTokens = 6;
const unavailable = await startNodeWebGpu();

const looped: ConvertOptions = {
  loops: 2,
  strategy: 'cycle',
  init: 'stepwise',
  ranks: { attention: 4, mlp: 4 },
  loraInit: 'svd',
  norms: 'per-loop',
};
const folders = {
  mos: { ...looped, loraInit: 'zero', loraKind: 'mos', mos: { ...defaultMosSettings, pool: 16 } },
  hyper: { ...looped, loraKind: 'hyper', hyper: { hyperDim: 2 } },
  scaled: { ...looped, loraKind: 'scaled' },
} as const satisfies Record<string, ConvertOptions>;
type Kind = keyof typeof folders | 'masa';
const kinds: Kind[] = ['mos', 'hyper', 'scaled', 'masa'];

/** What the wasm backend gives for one folder: the tfjs decoder's prompt logits and the default (fused) greedy run. */
interface WasmRun {
  readonly logits: Float32Array; // [T·V]
  readonly ids: number[];
}

const greedy = { prompt: '', promptIds: [1], maxNewTokens: greedyTokens, temperature: 0, stopAtEos: false };

async function promptLogits(model: LoadedModel): Promise<Float32Array> {
  const out = model.decoder.forward(ref.ids); // [T, V]; webgpu reads back asynchronously only
  const data = (await out.data()) as Float32Array;
  out.dispose();
  return data;
}

/** MoS starts with a zero B pool (no LoRA delta): `out` gets `dir`'s model with small random B shards, so the test sees its factors. */
async function withNonZeroMos(dir: string, out: string): Promise<void> {
  const loaded = await loadModel(dir);
  const trained = trainableModel(loaded, 'lora');
  for (const [name, pool] of trained.params)
    if (name.includes('lora_B.pool')) pool.assign(tf.mul(tf.randomNormal(pool.shape, 0, 1, 'float32', 7), 0.05));
  await saveModel(trained.model, out);
  disposeModel(trained.model);
  disposeModel(loaded);
}

/** Writes each sharing folder and records its wasm run (on the wasm backend; the caller restores webgpu). */
async function wasmRuns(root: string): Promise<Map<Kind, WasmRun>> {
  await initBackend({ backend: 'wasm' });
  for (const [kind, options] of Object.entries(folders))
    await convertToFolder(hfPath, join(root, kind === 'mos' ? 'mos-start' : kind), options);
  await withNonZeroMos(join(root, 'mos-start'), join(root, 'mos'));
  const source = await loadModel(hfPath);
  const masa = await convertMasa(source, { atoms: 2, modules: masaModules });
  await saveModel(masa, join(root, 'masa'));
  disposeModel(masa);
  disposeModel(source);
  const runs = new Map<Kind, WasmRun>();
  for (const kind of kinds) {
    const model = await loadModel(join(root, kind));
    runs.set(kind, { logits: await promptLogits(model), ids: (await generate(model, greedy)).ids });
    disposeModel(model);
  }
  return runs;
}

describe.runIf(runWebGpuSuite(unavailable, 'sharing-webgpu'))('sharing folders on webgpu in Node', () => {
  let root: string;
  let wasm: Map<Kind, WasmRun>;
  beforeAll(async () => {
    if (unavailable !== undefined) throw new Error(`CI=true needs a WebGPU adapter in Node: ${unavailable}`);
    root = await mkdtemp(join(tmpdir(), 'recur-sharing-webgpu-'));
    wasm = await wasmRuns(root);
    await initBackend({ backend: 'webgpu' });
  }, 300_000);
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it.each(kinds)(
    '%s: the same greedy tokens as on wasm, logits within 1e-4 (the golden WebGPU tolerance), no tensors left',
    async (kind) => {
      expect(activeBackend()).toBe('webgpu');
      const expected = wasm.get(kind)!;
      const before = tf.memory().numTensors;
      const model = await loadModel(join(root, kind));
      if (kind === 'mos')
        expect(maxAbs(await model.mos!.pools.get('mos.self_attn.q_proj.lora_B.pool')!.data())).toBeGreaterThan(0);
      const logits = await promptLogits(model);
      expect(maxAbsDiff(logits, expected.logits)).toBeLessThan(1e-4);
      const result = await generate(model, greedy);
      expect(result.path).toBe('tfjs');
      expect(result.ids).toEqual(expected.ids);
      disposeModel(model);
      expect(tf.memory().numTensors).toBe(before);
    },
    300_000,
  );
});
