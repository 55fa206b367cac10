import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Mulberry32, tf } from '@recur/tensor';
import { depthKvModes, type DecoderConfig, type DepthKvMode, type DepthRouting } from '@recur/graph';
import { depthForward, routingFor } from '../src/index.js';
import { modelPair, type ModelPair } from './support/modelPair.js';

// The two executors of one per-token-depth forward: tfjs depthForward (routingFor) and FastDecoder.forwardDepth.
const base: Omit<DecoderConfig, 'numLayers' | 'layerOrder'> = {
  vocabSize: 64,
  hiddenSize: 16,
  intermediateSize: 24,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 4,
  maxPositionEmbeddings: 64,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieWordEmbeddings: true,
};
const N = 3;
const strategies: Record<string, DecoderConfig> = {
  cycle: { ...base, numLayers: 2, layerOrder: [0, 1, 0, 1, 0, 1] },
  'middle-cycle': { ...base, numLayers: 4, layerOrder: [0, 1, 2, 1, 2, 1, 2, 3] },
};
const d = base.hiddenSize;
const TOL = 1e-4;
// A 9-token prompt (crossing the fast path's 4-row chunks), then 3 single-token decode calls.
const calls = [[1, 7, 3, 22, 9, 14, 30, 5, 2], [11], [18], [26]];

const gaussian = (random: Mulberry32, n: number, std: number): Float32Array =>
  Float32Array.from({ length: n }, () => {
    const u = Math.max(random.next(), 1e-12);
    return std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.next());
  });

/** Router weights large enough that depths really vary (checked below). */
function routings(seed: number): Record<string, DepthRouting> {
  const random = new Mulberry32(seed);
  const thresholds = [0.5, 0.45, 0.55];
  const token = gaussian(random, N * d, 1.5);
  return {
    'expert linear': {
      kind: 'expert',
      alpha: 0.7,
      thresholds,
      routers: Array.from({ length: N }, () => ({ kind: 'linear', weight: gaussian(random, d, 1) })),
    },
    'expert mlp': {
      kind: 'expert',
      alpha: 0.7,
      thresholds,
      routers: Array.from({ length: N }, () => ({
        kind: 'mlp',
        fc1: gaussian(random, 4 * d, 1),
        fc1Bias: gaussian(random, 4, 0.5),
        fc2: gaussian(random, 4, 2),
      })),
    },
    'token paper': { kind: 'token', weight: token, numRecursions: N, form: 'paper' },
    'token gated-every-loop': {
      kind: 'token',
      weight: token,
      numRecursions: N,
      bias: Float32Array.from([0.05, 0, -0.05]),
      form: 'gated-every-loop',
    },
  };
}

interface Run {
  readonly logits: Float32Array[];
  readonly depths: number[];
  readonly entries: number[];
}

function runTfjs(pair: ModelPair, routing: DepthRouting, kvMode: DepthKvMode): Run {
  const cache = pair.decoder.newDepthCache(kvMode);
  const out: Run = { logits: [], depths: [], entries: [] };
  for (const ids of calls) {
    tf.tidy(() => {
      const res = depthForward(pair.decoder, ids, { cache, routing: routingFor(routing, d) });
      out.logits.push(res.logits.dataSync() as Float32Array);
      out.depths.push(...res.depths);
    });
  }
  out.entries.push(...cache.entriesPerStep());
  cache.dispose();
  return out;
}

function runFast(pair: ModelPair, routing: DepthRouting, kvMode: DepthKvMode): Run {
  const cache = pair.fast.newCache(4, kvMode); // grows during the prompt
  const out: Run = { logits: [], depths: [], entries: [] };
  for (const ids of calls) {
    const res = pair.fast.forwardDepth(ids, { cache, routing, kvMode });
    out.logits.push(res.logits);
    out.depths.push(...res.depths);
  }
  out.entries.push(...cache.entriesPerStep());
  cache.dispose();
  return out;
}

const maxAbsDiff = (a: Float32Array, b: Float32Array): number =>
  a.reduce((worst, x, i) => Math.max(worst, Math.abs(x - b[i]!)), 0);

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1 });
});

describe('per-token depth: the fused executor equals the tfjs one', () => {
  const pairs: ModelPair[] = [];
  afterAll(() => pairs.forEach((p) => p.dispose()));

  for (const [strategy, config] of Object.entries(strategies)) {
    for (const rank of [0, 2]) {
      for (const perLoopNorms of [false, true]) {
        const name = `${strategy}, LoRA ${rank ? `rank ${rank}` : 'none'}, ${perLoopNorms ? 'per-loop' : 'tied'} norms`;
        it(`${name}: every router × KV mode gives identical depths, logits within ${TOL}`, async () => {
          const pair = await modelPair({ config, rank, perLoopNorms, seed: 7 + rank + (perLoopNorms ? 1 : 0) });
          pairs.push(pair);
          const all = Object.entries(routings(31));
          runFast(pair, all[0]![1], 'copy'); // the fast decoder's score scratch is allocated on first use and kept
          const before = tf.memory().numTensors;
          for (const [router, routing] of all) {
            for (const kvMode of depthKvModes) {
              const tfjs = runTfjs(pair, routing, kvMode);
              const fast = runFast(pair, routing, kvMode);
              const label = `${name}, ${router}, ${kvMode}`;
              expect(fast.depths, label).toEqual(tfjs.depths);
              expect(new Set(tfjs.depths).size, `${label}: depths vary`).toBeGreaterThan(1);
              tfjs.logits.forEach((l, i) =>
                expect(maxAbsDiff(fast.logits[i]!, l), `${label}, call ${i}`).toBeLessThan(TOL),
              );
              expect(fast.entries, `${label}: entries per step`).toEqual(tfjs.entries);
            }
          }
          expect(tf.memory().numTensors).toBe(before);
        });
      }
    }
  }
});
