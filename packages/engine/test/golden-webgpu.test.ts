import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeBackend, tf, webGpuAdapter } from '@recur/tensor';
import { generate, type LoadedModel } from '../src/index.js';
import { loadModel } from '../src/node/index.js';
import { maxAbsDiff, ref } from './logits.js';
import { ggufPath, readReference, type GreedyReference } from './stories260k.js';
import { runWebGpuSuite, startNodeWebGpu } from './webgpuNode.js';

// Issue 20 §3: --backend webgpu in Node (Dawn) with Recur's WGSL kernels, on a software Vulkan adapter
// here (SwiftShader, ≈1 GFLOP/s): a 32-token prefix of the golden greedy run keeps it to about a minute.
const goldenPrefix = 32;
const unavailable = await startNodeWebGpu();

describe.runIf(runWebGpuSuite(unavailable, 'golden-webgpu'))('stories260K golden outputs on webgpu in Node', () => {
  let model: LoadedModel;
  beforeAll(async () => {
    if (unavailable !== undefined) throw new Error(`CI=true needs a WebGPU adapter in Node: ${unavailable}`);
    model = await loadModel(ggufPath);
  });
  afterAll(() => model?.decoder.dispose());

  it("runs on Dawn's adapter", () => {
    expect(activeBackend()).toBe('webgpu');
    expect(webGpuAdapter()).toBeDefined();
  });

  it("matches the float64 reference logits within 1e-4 (the CPU backends' tolerance)", async () => {
    const logits = model.decoder.forward(ref.ids); // [T, V]; webgpu reads back asynchronously only
    const values = await logits.data();
    logits.dispose();
    expect(maxAbsDiff(values, ref.logits.flat())).toBeLessThan(1e-4);
  });

  it(`greedy-decodes the first ${goldenPrefix} golden tokens from BOS on Recur's WGSL kernels, leaving no tensors behind`, async () => {
    const greedy = readReference<GreedyReference>('greedy_bos_200.json');
    const before = tf.memory().numTensors;
    const profile = await tf.profile(async () => {
      const result = await generate(model, {
        prompt: '',
        promptIds: [1],
        maxNewTokens: goldenPrefix,
        temperature: 0,
        stopAtEos: false,
      });
      expect([1, ...result.ids]).toEqual(greedy.ids.slice(0, goldenPrefix + 1));
    });
    const kernels = new Set(profile.kernels.map((k) => k.name));
    for (const name of ['RecurRmsNormWebGpu', 'RecurRopeWebGpu', 'RecurAttentionWebGpu'])
      expect(kernels).toContain(name);
    expect(tf.memory().numTensors).toBe(before);
  }, 600_000);
});
