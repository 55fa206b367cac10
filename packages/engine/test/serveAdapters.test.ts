import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { DepthwiseLora, freshLora } from '@recur/lora';
import { gaussianArray, initBackend, tf } from '@recur/tensor';
import {
  convertModel,
  createServingEngine,
  disposeModel,
  generate,
  withAdapters,
  type ConvertOptions,
  type LoadedModel,
} from '../src/index.js';
import { loadModel } from '../src/node/index.js';

// Per-request adapters on a recursive model under continuous depth-wise batching: stories260K as a
// middle-cycle block looped twice (own depth-wise LoRA, per-loop norms) plus two extra LoRAs, one per
// (layer, loop) step. Requests for the base and for each adapter, submitted together, share every
// step; each must produce the greedy tokens of that adapter's model run alone (withAdapters + generate).

const hf = fileURLToPath(new URL('../../../../shared/models/stories260K/hf', import.meta.url));
const conversion: ConvertOptions = {
  strategy: 'middle-cycle',
  loops: 2,
  init: 'lower',
  ranks: { attention: 4, mlp: 4 },
  loraInit: 'svd',
  norms: 'per-loop',
};
let source: LoadedModel;
let model: LoadedModel;

/** A LoRA for every step of the converted model with non-zero B, seeded. */
function extraLora(rank: number, seed: number): DepthwiseLora {
  const arrays = freshLora({ config: model.decoder.config, rank, seed });
  for (const [key, t] of arrays)
    if (key.includes('.lora_B.'))
      arrays.set(key, {
        data: gaussianArray(t.data.length, seed * 31 + key.length).map((v) => v * 0.3),
        shape: t.shape,
      });
  return DepthwiseLora.fromArrays(arrays);
}

beforeAll(async () => {
  await initBackend();
  source = await loadModel(hf);
  model = await convertModel(source, conversion);
}, 60_000);

afterAll(() => {
  disposeModel(model);
  disposeModel(source);
});

const prompts = [
  [1, 403],
  [1, 365, 281, 284],
  [1, 500],
];

describe('serving engine: per-request adapters on a recursive model', () => {
  it('mixed base / adapter requests in shared depth-wise steps give each adapter’s solo greedy tokens', async () => {
    const specs = [
      { rank: 3, seed: 1 },
      { rank: 5, seed: 2 },
    ];
    const solo: number[][][] = [];
    for (const adapter of [undefined, ...specs]) {
      const alone = adapter
        ? withAdapters(await convertModel(source, conversion), [extraLora(adapter.rank, adapter.seed)])
        : model;
      const texts: number[][] = [];
      for (const ids of prompts) {
        const result = await generate(alone, { prompt: '', promptIds: ids, maxNewTokens: 12, temperature: 0 });
        texts.push([...result.ids]);
      }
      if (alone !== model) disposeModel(alone);
      solo.push(texts);
    }
    expect(solo[1]).not.toEqual(solo[0]);
    const before = tf.memory().numTensors;
    const adapters = specs.map((s) => extraLora(s.rank, s.seed));
    const engine = await createServingEngine(model, { adapters });
    for (const lora of adapters) lora.dispose();
    const jobs = [0, 1, 2].flatMap((adapter) => prompts.map((promptIds, p) => ({ adapter, p, promptIds })));
    const results = await Promise.all(
      jobs.map((j) => engine.submit({ promptIds: j.promptIds, maxNewTokens: 12, adapter: j.adapter })),
    );
    for (const [i, j] of jobs.entries())
      expect(results[i]!.ids, `adapter ${j.adapter} prompt ${j.p}`).toEqual(solo[j.adapter]![j.p]);
    expect(engine.stats().perAdapter?.map((a) => a.finished)).toEqual([3, 3, 3]);
    await expect(engine.submit({ promptIds: [1], maxNewTokens: 2, adapter: 3 })).rejects.toThrow(RangeError);
    engine.dispose();
    expect(tf.memory().numTensors).toBe(before);
  }, 180_000);
});
