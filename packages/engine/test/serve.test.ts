import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { FastDecoder } from '@recur/graph';
import {
  convertModel,
  createServingEngine,
  disposeModel,
  generate,
  parseExitRule,
  type LoadedModel,
  type ServeRequest,
  type ServingEngineOptions,
} from '../src/index.js';
import { fastAdapterSource } from '../src/fast.js';
import { loadModel } from '../src/node/index.js';
import { hfPath } from './stories260k.js';

// stories260K (vanilla) and its MIDDLE-CYCLE × 2 conversion with rank-4 depth-wise LoRA and per-loop
// norms: prologue layer, a 2-layer block looped twice (each loop its own LoRA and norms), epilogue layer.
let source: LoadedModel;
let model: LoadedModel;
let prompts: number[][];

beforeAll(async () => {
  await initBackend();
  source = await loadModel(hfPath);
  model = await convertModel(source, {
    strategy: 'middle-cycle',
    loops: 2,
    init: 'lower',
    ranks: { attention: 4, mlp: 4 },
    loraInit: 'svd',
    norms: 'per-loop',
  });
  const texts = [
    'Once upon a time',
    'The little dog ran to the park and saw a big red ball. He',
    'Lily',
    'One day, a girl named Sue went',
  ];
  prompts = texts.map((t) => model.tokenizer.encode(t, { addBos: true }));
}, 60_000);

afterAll(() => {
  disposeModel(model);
  disposeModel(source);
});

interface Served {
  ids: readonly number[];
  depths: readonly number[];
  logits: Float32Array[];
}

/** Serves `requests` on a fresh engine, all submitted at once. */
let lastPreemptions = 0;

async function serve(
  m: LoadedModel,
  requests: readonly ServeRequest[],
  options: ServingEngineOptions,
): Promise<Served[]> {
  const engine = await createServingEngine(m, { threads: 1, ...options });
  try {
    const served = await Promise.all(
      requests.map(async (r) => {
        const logits: Float32Array[] = [];
        const res = await engine.submit(r, { onLogits: (l) => logits.push(Float32Array.from(l)) });
        return { ids: res.ids, depths: res.depths, logits };
      }),
    );
    lastPreemptions = engine.stats().preemptions ?? 0;
    return served;
  } finally {
    engine.dispose();
  }
}

function expectSame(batched: Served, alone: Served, tolerance: number): void {
  expect(batched.ids).toEqual(alone.ids);
  expect(batched.depths).toEqual(alone.depths);
  batched.logits.forEach((row, i) => {
    let worst = 0;
    row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - alone.logits[i]![j]!))));
    expect(worst).toBeLessThan(tolerance);
  });
}

describe('serving engine (continuous depth-wise batching on the fast path)', () => {
  it('the fast path with depth-wise LoRA and per-loop norms equals the tfjs decoder (logits within 1e-4)', async () => {
    const fast = (await FastDecoder.create(model.decoder.config, model.decoder.weights, {
      adapter: fastAdapterSource(model.lora!),
    }))!;
    try {
      const ids = prompts[1]!;
      const mine = fast.forward(ids);
      const reference = tf.tidy(() => model.decoder.forward(ids).dataSync() as Float32Array);
      let worst = 0;
      mine.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - reference[i]!))));
      expect(worst).toBeLessThan(1e-4);
    } finally {
      fast.dispose();
    }
  });

  it('vanilla model: served greedy tokens equal generate(); batched equals each request alone', async () => {
    const requests = prompts.map((promptIds, i) => ({ promptIds, maxNewTokens: 12 + 3 * i, stopAtEos: false }));
    const batched = await serve(source, requests, { mode: 'continuous-sequence', scheduler: { prefillChunk: 8 } });
    const alone = await serve(source, requests, { mode: 'one-at-a-time' });
    batched.forEach((b, i) => expectSame(b, alone[i]!, 1e-4));
    const reference = await generate(source, {
      prompt: '',
      promptIds: prompts[0]!,
      maxNewTokens: 12,
      stopAtEos: false,
      fast: false,
    });
    expect(batched[0]!.ids).toEqual(reference.ids);
  });

  it('CDB with early exit: batched across depths equals each request alone (ids, depths, logits within 1e-4)', async () => {
    const requests = prompts.map((promptIds, i) => ({ promptIds, maxNewTokens: 16 + 2 * i, stopAtEos: false }));
    for (const kvMode of ['copy', 'shared'] as const) {
      const options: ServingEngineOptions = {
        exit: { kind: 'maxProb', threshold: 0.5 },
        kvMode,
        scheduler: { prefillChunk: 4 },
      };
      const batched = await serve(model, requests, { ...options, mode: 'continuous-depth' });
      const alone = await serve(model, requests, { ...options, mode: 'one-at-a-time' });
      batched.forEach((b, i) => expectSame(b, alone[i]!, 1e-4));
      const depths = batched.flatMap((b) => b.depths.slice(1));
      expect(depths.some((d) => d === 1)).toBe(true); // some generated tokens did exit early
      expect(depths.some((d) => d === 2)).toBe(true);
    }
  });

  it('CDB matches the tfjs per-token-depth path (generate --exit) under copy and shared KV: same ids and depths', async () => {
    const rule = parseExitRule('maxprob:0.5');
    for (const kvMode of ['copy', 'shared'] as const) {
      const [served] = await serve(model, [{ promptIds: prompts[0]!, maxNewTokens: 20, stopAtEos: false }], {
        exit: { kind: 'maxProb', threshold: 0.5 },
        kvMode,
      });
      const reference = await generate(model, {
        prompt: '',
        promptIds: prompts[0]!,
        maxNewTokens: 20,
        stopAtEos: false,
        exit: rule,
        kvMode,
        fast: false,
      });
      expect(served!.ids).toEqual(reference.ids);
      expect(served!.depths).toEqual(reference.depths);
    }
  });

  it('preemption (a KV budget too small for all) and a router hook leave each request as it runs alone', async () => {
    const requests = prompts.map((promptIds) => ({ promptIds, maxNewTokens: 12, stopAtEos: false }));
    const options: ServingEngineOptions = { exit: { kind: 'maxProb', threshold: 0.5 } };
    const squeezed = await serve(model, requests, {
      ...options,
      scheduler: { kvBudget: 2 * (prompts[1]!.length + 12) + 8, prefillChunk: 4 },
    });
    expect(lastPreemptions).toBeGreaterThan(0);
    const alone = await serve(model, requests, { ...options, mode: 'one-at-a-time' });
    squeezed.forEach((b, i) => expectSame(b, alone[i]!, 1e-4));
    const hooked = await serve(model, requests.slice(0, 1), {
      continueAfter: (loop, logits, hidden) => loop === 0 && logits.length === 512 && hidden.length === 64 && false,
    });
    const fixed = await serve(model, requests.slice(0, 1), { exit: { kind: 'fixed', depth: 1 } });
    expectSame(hooked[0]!, fixed[0]!, 1e-6);
  });

  it('without an exit rule every token runs N loops and equals the full-depth decoder; fixed:1 exits all decode tokens at 1', async () => {
    const reference = await generate(model, {
      prompt: '',
      promptIds: prompts[2]!,
      maxNewTokens: 10,
      stopAtEos: false,
      fast: false,
    });
    const [full] = await serve(model, [{ promptIds: prompts[2]!, maxNewTokens: 10, stopAtEos: false }], {});
    expect(full!.ids).toEqual(reference.ids);
    expect(full!.depths).toEqual(full!.ids.map(() => 2));
    const [shallow] = await serve(model, [{ promptIds: prompts[2]!, maxNewTokens: 10, stopAtEos: false }], {
      exit: { kind: 'fixed', depth: 1 },
    });
    expect(shallow!.depths).toEqual([2, ...shallow!.ids.slice(1).map(() => 1)]);
  });

  it('rejects bad input, cancels on abort, drains, reports stats and frees its tensors', async () => {
    const before = tf.memory().numTensors;
    const engine = await createServingEngine(model, { threads: 1, exit: { kind: 'maxProb', threshold: 0.5 } });
    await expect(engine.submit({ promptIds: [], maxNewTokens: 4 })).rejects.toThrow(RangeError);
    await expect(engine.submit({ promptIds: [1], maxNewTokens: 100_000 })).rejects.toThrow(RangeError);
    const controller = new AbortController();
    const cancelled = engine.submit(
      { promptIds: prompts[0]!, maxNewTokens: 200, stopAtEos: false },
      { signal: controller.signal, onToken: () => controller.abort() },
    );
    const done = engine.submit({ promptIds: prompts[1]!, maxNewTokens: 8, stopAtEos: false });
    const drained = engine.drain();
    await expect(engine.submit({ promptIds: [1], maxNewTokens: 1 })).rejects.toThrow();
    expect((await cancelled).finishReason).toBe('cancelled');
    const result = await done;
    expect(result.finishReason).toBe('length');
    expect(result.ids).toHaveLength(8);
    await drained;
    const other = await createServingEngine(model, { threads: 1 });
    const throwing = other.submit(
      { promptIds: prompts[0]!, maxNewTokens: 4 },
      {
        onToken: () => {
          throw new Error('client gone');
        },
      },
    );
    const fine = other.submit({ promptIds: prompts[1]!, maxNewTokens: 4, stopAtEos: false });
    await expect(throwing).rejects.toThrow('client gone');
    expect((await fine).ids).toHaveLength(4);
    other.dispose();
    const stats = engine.stats();
    expect(stats.finished).toBe(1);
    expect(stats.cancelled).toBe(1);
    expect(stats.depthHistogram.reduce((a, b) => a + b, 0)).toBe(stats.generatedTokens);
    expect(engine.maxDepth).toBe(2);
    engine.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
