import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { FastDecoder, randomDecoder, type DecoderConfig, type DepthKvMode } from '@recur/graph';
import {
  createServingEngine,
  depthRouting,
  withRouter,
  type LoadedModel,
  type ServeRequest,
  type ServingEngineOptions,
} from '../src/index.js';

// Issue 14 §2: a MoR router model served with continuous depth-wise batching routes every position
// (prompt and generated) as the fused forward does. A tiny MIDDLE-CYCLE model — prologue layer, a
// 1-layer block looped 3 times, epilogue layer — with random weights and routers scaled ×25 so their
// decisions are far from ties and the depths mixed.
const config: DecoderConfig = {
  vocabSize: 64,
  hiddenSize: 16,
  intermediateSize: 24,
  numLayers: 3,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 4,
  maxPositionEmbeddings: 96,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieWordEmbeddings: true,
  layerOrder: [0, 1, 1, 1, 2],
};
const recur = {
  strategy: 'middle-cycle',
  loops: 3,
  blockSize: 1,
  init: 'stepwise',
  loraInit: 'zero',
  ranks: { attention: 0, mlp: 0 },
  norms: 'tied',
  loraScale: 1,
  layerOrder: [0, 1, 1, 1, 2],
  source: { path: 'tiny', numLayers: 5, parameters: 0 },
} as const;
const prompts = [[1, 5, 9, 13, 17, 21, 25, 29, 33, 37, 41], [2, 40, 7], [3], [4, 8, 15, 16, 23, 42, 12, 6]];
const requests: ServeRequest[] = prompts.map((promptIds, i) => ({
  promptIds,
  maxNewTokens: 9 + 3 * i,
  stopAtEos: false,
}));
const models = new Map<string, LoadedModel>();

function routerModel(
  kind: 'expert' | 'token',
  kvMode: DepthKvMode,
  tokenForm?: 'paper' | 'gated-every-loop',
): LoadedModel {
  const plain = {
    decoder: randomDecoder(config, { seed: 7 }),
    config,
    tokenizer: undefined as never,
    source: { path: 'tiny', format: 'safetensors' as const },
    tensors: [],
    recur,
  };
  const routed = withRouter(plain as unknown as LoadedModel, {
    kind,
    kvMode,
    seed: 5,
    ...(tokenForm && { tokenForm }),
  });
  const routerParams = new Map([...routed.routerParams!].map(([key, t]) => [key, tf.tidy(() => tf.mul(t, 25))]));
  for (const t of routed.routerParams!.values()) t.dispose();
  return { ...routed, routerParams };
}

interface Run {
  readonly ids: readonly number[];
  readonly depths: readonly number[];
  /** The logits each token was sampled from. */
  readonly logits: readonly Float32Array[];
}

/** One request at a time through the fused per-token-depth forward (FastDecoder.forwardDepth), greedy. */
async function alone(
  model: LoadedModel,
  request: ServeRequest,
  kvMode: DepthKvMode,
): Promise<Run & { promptDepths: Int32Array }> {
  const fast = (await FastDecoder.create(model.decoder.config, model.decoder.weights))!;
  fast.parallel = false;
  const routing = depthRouting(model, { kind: 'router' });
  const cache = fast.newCache(16, kvMode);
  try {
    const [ids, depths, logits] = [[] as number[], [] as number[], [] as Float32Array[]];
    let input: readonly number[] = request.promptIds;
    let promptDepths: Int32Array = new Int32Array(0);
    while (ids.length < request.maxNewTokens) {
      const res = fast.forwardDepth(input, { cache, routing, kvMode, lastOnly: true });
      if (ids.length === 0) promptDepths = res.depths;
      logits.push(res.logits);
      ids.push(res.logits.indexOf(Math.max(...res.logits)));
      depths.push(res.depths[input.length - 1]!);
      input = [ids.at(-1)!];
    }
    return { ids, depths, logits, promptDepths };
  } finally {
    cache.dispose();
    fast.dispose();
  }
}

async function served(
  model: LoadedModel,
  options: ServingEngineOptions,
): Promise<{ runs: Run[]; preemptions: number }> {
  const engine = await createServingEngine(model, { threads: 1, eosId: -1, ...options });
  try {
    const runs = await Promise.all(
      requests.map(async (r) => {
        const logits: Float32Array[] = [];
        const { ids, depths } = await engine.submit(r, { onLogits: (l) => logits.push(Float32Array.from(l)) });
        return { ids, depths, logits };
      }),
    );
    return { runs, preemptions: engine.stats().preemptions ?? 0 };
  } finally {
    engine.dispose();
  }
}

/** Same ids and depths, logits within 1e-5 (the rows' kernels are row-wise: batching changes no sum). */
function expectSame(run: Run, reference: Run): void {
  expect({ ids: run.ids, depths: run.depths }).toEqual({ ids: reference.ids, depths: reference.depths });
  run.logits.forEach((row, t) => {
    let worst = 0;
    row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - reference.logits[t]![j]!))));
    expect(worst).toBeLessThan(1e-5);
  });
}

beforeAll(async () => {
  await initBackend();
});

afterAll(() => {
  for (const m of models.values()) {
    m.decoder.dispose();
    for (const t of m.routerParams?.values() ?? []) t.dispose();
  }
});

const cases = [
  ['expert', 'recursion-wise'],
  ['expert', 'shared'],
  ['expert', 'copy'],
  ['token', 'recursion-wise'],
  ['token', 'shared'],
  ['token', 'copy'],
] as const;

describe('serving a router model (continuous depth-wise batching, routed prefill and decode)', () => {
  it.each(cases)(
    '%s choice, %s KV: concurrent requests get the tokens and depths of forwardDepth run alone',
    async (kind, kvMode) => {
      const model = routerModel(kind, kvMode);
      models.set(`${kind}-${kvMode}`, model);
      const before = tf.memory().numTensors;
      const reference = await Promise.all(requests.map((r) => alone(model, r, kvMode)));
      const all = reference.flatMap((r) => [...r.depths, ...r.promptDepths]);
      for (const d of [1, 2, 3]) expect(all).toContain(d); // the router mixes depths, prompts included
      const { runs } = await served(model, { scheduler: { prefillChunk: 4, maxRowsPerStep: 16 } }); // KV as trained
      runs.forEach((run, i) => expectSame(run, reference[i]!));
      expect(tf.memory().numTensors).toBe(before);
    },
    60_000,
  );

  it('preempted and replayed requests keep their tokens and depths; paper and gated-every-loop token forms', async () => {
    for (const [kind, form] of [
      ['expert', undefined],
      ['token', 'gated-every-loop'],
      ['token', 'paper'],
    ] as const) {
      const model = routerModel(kind, 'recursion-wise', form);
      models.set(`${kind}-${form}-squeezed`, model);
      const reference = await Promise.all(requests.map((r) => alone(model, r, 'recursion-wise')));
      const squeezed = await served(model, {
        scheduler: { kvBudget: 3 * (prompts[0]!.length + 18) + 6, prefillChunk: 3 },
      });
      expect(squeezed.preemptions).toBeGreaterThan(0);
      squeezed.runs.forEach((run, i) => expectSame(run, reference[i]!));
    }
  }, 60_000);

  it('router: false serves full depth; an explicit KV mode overrides the trained one; a flat mode is refused', async () => {
    const model = routerModel('expert', 'shared');
    models.set('options', model);
    const { runs } = await served(model, { router: false });
    expect(runs.flatMap((r) => r.depths).every((d) => d === 3)).toBe(true);
    const copy = await served(model, { kvMode: 'copy' });
    const reference = await Promise.all(requests.map((r) => alone(model, r, 'copy')));
    copy.runs.forEach((run, i) => expectSame(run, reference[i]!));
    await expect(createServingEngine(model, { mode: 'continuous-sequence' })).rejects.toThrow(/cannot route/);
  }, 60_000);
});
