import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { Decoder, randomDecoder, type DecoderConfig, type DepthKvMode } from '@recur/graph';
import {
  depthForward,
  earlyExitRouting,
  exitReadouts,
  expertChoiceRouting,
  expertRouterPrefix,
  initScalarRouter,
  initTokenRouter,
  routerTensors,
  theoreticalKvRatio,
  tokenChoiceRouting,
  type LoopRouting,
} from '../src/index.js';

// MIDDLE-CYCLE shape: unique first layer, a block of 2 layers looped 3 times, unique last layer.
const config: DecoderConfig = {
  vocabSize: 40,
  hiddenSize: 16,
  intermediateSize: 24,
  numLayers: 4,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 4,
  maxPositionEmbeddings: 64,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieWordEmbeddings: true,
  layerOrder: [0, 1, 2, 1, 2, 1, 2, 3],
};
const N = 3;
const ids = [1, 7, 3, 22, 9, 14, 30, 5, 2, 11, 18, 26];
const modes: DepthKvMode[] = ['recursion-wise', 'copy', 'shared'];

let decoder: Decoder;
let routers: Map<string, tf.Tensor>;

beforeAll(async () => {
  await initBackend();
  await tf.setBackend('cpu');
  decoder = randomDecoder(config, { seed: 3, std: 0.3 });
  routers = new Map([
    ...Array.from({ length: N }, (_, r) => [
      ...routerTensors(initScalarRouter(expertRouterPrefix(r), { hiddenSize: 16, std: 1, seed: 40 + r })),
    ]).flat(),
    ...routerTensors(initTokenRouter({ hiddenSize: 16, numRecursions: N, std: 1, seed: 9 })),
  ]);
});

/**
 * Runs ids through depthForward, `step` tokens per call (the first
 * `prompt` ones at full depth, in one call); logits [T·V] and depths.
 */
function run(
  mode: DepthKvMode,
  routing: () => LoopRouting | undefined,
  tokens = ids,
  step = tokens.length,
  prompt = 0,
) {
  const cache = decoder.newDepthCache(mode);
  const logits: number[] = [];
  const depths: number[] = [];
  for (let s = 0; s < tokens.length; s += s === 0 && prompt > 0 ? prompt : step) {
    const out = tf.tidy(() => {
      const r = s === 0 && prompt > 0 ? undefined : routing();
      const res = depthForward(decoder, tokens.slice(s, s + (s === 0 && prompt > 0 ? prompt : step)), {
        cache,
        ...(r && { routing: r }),
      });
      return { logits: tf.keep(res.logits), depths: res.depths };
    });
    logits.push(...out.logits.dataSync());
    depths.push(...out.depths);
    out.logits.dispose();
  }
  const entries = cache.blockEntries();
  const stored = { elements: cache.elementCount(), perStep: cache.entriesPerStep() };
  cache.dispose();
  return { logits, depths, entries, stored };
}

/**
 * The paper form written out: each token runs its loops ungated from h₀, then h₀ + g·f^r(h₀) goes through the epilogue.
 */
function paperReference(depths: Int32Array, gates: ArrayLike<number>): Float32Array {
  const { prologue, loops, epilogue } = decoder.loops;
  const cache = decoder.newDepthCache('recursion-wise');
  const T = ids.length;
  const out = tf.tidy(() => {
    const positions = Int32Array.from({ length: T }, (_, t) => t);
    const h0 = decoder.runLayers(decoder.embed(ids), prologue, { positions, cache });
    const rows = Array.from({ length: T }, (_, t) => tf.slice(h0, [t, 0], [1, -1]) as tf.Tensor2D);
    for (let r = 0; r < loops.length; r++) {
      const leaving = positions.filter((t) => depths[t] === r);
      if (leaving.length > 0) cache.exit(leaving, r);
      const active = positions.filter((t) => depths[t]! > r);
      if (active.length === 0) break;
      const next = decoder.runLayers(
        tf.concat(
          Array.from(active, (t) => rows[t]!),
          0,
        ) as tf.Tensor2D,
        loops[r]!,
        { positions: active, cache },
      );
      active.forEach((t, j) => (rows[t] = tf.slice(next, [j, 0], [1, -1]) as tf.Tensor2D));
    }
    const final = tf.add(h0, tf.mul(tf.concat(rows, 0), tf.tensor2d(Array.from(gates), [T, 1]))) as tf.Tensor2D;
    return decoder.head(decoder.runLayers(final, epilogue, { positions, cache })).dataSync() as Float32Array;
  });
  cache.dispose();
  return out;
}

const threshold = (): LoopRouting => expertChoiceRouting(routers, { numRecursions: N, mode: 'threshold' });

describe('depthForward', () => {
  it('at full depth equals Decoder.forward with per-loop caches; KV sharing changes what deeper loops see', () => {
    const expected = tf.tidy(() => decoder.forward(ids).dataSync());
    for (const mode of modes) {
      const { logits, depths } = run(mode, () => undefined);
      expect(depths).toEqual(ids.map(() => N));
      const gap = Math.max(...logits.map((x, i) => Math.abs(x - expected[i]!)));
      if (mode === 'shared') expect(gap).toBeGreaterThan(1e-3);
      else expect(gap).toBeLessThan(1e-4);
    }
  });

  it('is causal under decode-time rules: one call over the sequence equals one token per call, and future tokens change nothing', () => {
    for (const mode of modes) {
      // Router rules read each row's own state: a whole-sequence call equals token-by-token decoding.
      // Early exit reads a probe through the epilogue, whose attention sees earlier rows' current
      // states, so it is defined (and served) one decode token per call.
      const rules = [
        { routing: threshold, wholeCall: true },
        { routing: () => tokenChoiceRouting(routers), wholeCall: true },
        { routing: () => tokenChoiceRouting(routers, { form: 'gated-every-loop' }), wholeCall: true },
        { routing: () => earlyExitRouting({ kind: 'maxProb', threshold: 0.17 }), wholeCall: false },
      ];
      for (const { routing, wholeCall } of rules) {
        const whole = run(mode, routing, ids, wholeCall ? ids.length : 1);
        const stepwise = run(mode, routing, ids, 1);
        expect(stepwise.depths).toEqual(whole.depths);
        stepwise.logits.forEach((x, i) => expect(Math.abs(x - whole.logits[i]!)).toBeLessThan(1e-4));
        const changed = run(mode, routing, [...ids.slice(0, 6), 3, 3, 3, 3, 3, 3], 1);
        expect(changed.depths.slice(0, 6)).toEqual(stepwise.depths.slice(0, 6));
        changed.logits.slice(0, 6 * 40).forEach((x, i) => expect(x).toBe(stepwise.logits[i]));
      }
    }
    for (const routing of [
      threshold,
      () => tokenChoiceRouting(routers),
      () => earlyExitRouting({ kind: 'maxProb', threshold: 0.17 }),
    ]) {
      const seen = run('copy', routing, ids, 1).depths;
      expect(new Set(seen).size, String(seen)).toBeGreaterThan(1); // tokens really take different depths
    }
  });

  it('a fixed depth of 1 after a one-token prompt equals the one-loop model (CYCLE: no epilogue carries the prompt depth)', () => {
    const cycle = { ...config, numLayers: 2, layerOrder: [0, 1, 0, 1, 0, 1] };
    const looped = randomDecoder(cycle, { seed: 5, std: 0.3 });
    const oneLoop = new Decoder({ ...cycle, layerOrder: [0, 1] }, looped.weights);
    const expected = tf.tidy(() => oneLoop.forward(ids).dataSync());
    const saved = decoder;
    decoder = looped;
    try {
      const { logits, depths } = run('copy', () => earlyExitRouting({ kind: 'fixed', depth: 1 }), ids, 1, 1);
      expect(depths).toEqual([N, ...ids.slice(1).map(() => 1)]);
      const V = config.vocabSize;
      logits.slice(V).forEach((x, i) => expect(Math.abs(x - expected[V + i]!)).toBeLessThan(1e-4));
    } finally {
      decoder = saved;
      looped.dispose();
    }
  });

  it('KV entries measured from the cache equal the theory under expert-choice capacities', () => {
    const topK = (): LoopRouting => expertChoiceRouting(routers, { numRecursions: N, mode: 'topK' });
    const blockLayers = 2;
    const vanilla = N * ids.length * blockLayers;
    const measured = Object.fromEntries(modes.map((m) => [m, run(m, topK).entries / vanilla]));
    expect(measured['recursion-wise']).toBeCloseTo(theoreticalKvRatio(N, 'recursionWise'), 10); // (N+1)/2N = 2/3
    expect(measured.shared).toBeCloseTo(theoreticalKvRatio(N, 'recursiveSharing'), 10); // 1/N
    expect(measured.copy).toBeCloseTo(1, 10);
    // Element counts: every stored row is K and V for each KV head; prologue/epilogue slots hold every token.
    for (const mode of modes) {
      const { stored } = run(mode, topK);
      const rows = stored.perStep.reduce((a, b) => a + b, 0);
      expect(stored.elements).toBe(rows * 2 * config.numKvHeads * config.headDim);
      expect([stored.perStep[0], stored.perStep.at(-1)]).toEqual([ids.length, ids.length]);
    }
    // capacities 12, 8, 4 per loop
    expect(run('recursion-wise', topK).stored.perStep).toEqual([12, 12, 12, 8, 8, 4, 4, 12]);
    const { depths } = run('recursion-wise', topK);
    expect([1, 2, 3].map((d) => depths.filter((x) => x === d).length)).toEqual([4, 4, 4]);
  });

  it("token-choice 'paper' form: loops run ungated, final = h₀ + g·f^r(h₀) (not h ← h + g·Block(h) each loop)", () => {
    const routed = tf.tidy(() => {
      const out = depthForward(decoder, ids, {
        cache: decoder.newDepthCache('recursion-wise'),
        routing: tokenChoiceRouting(routers),
      });
      return { logits: out.logits.dataSync(), depths: out.depths };
    });
    const gates = tf.tidy(() => {
      const routing = tokenChoiceRouting(routers);
      depthForward(decoder, ids, { cache: decoder.newDepthCache('recursion-wise'), routing });
      return routing.routed()!.gate.dataSync();
    });
    expect(new Set(routed.depths).size).toBeGreaterThan(1);
    const expected = paperReference(routed.depths, gates);
    routed.logits.forEach((x, i) => expect(Math.abs(x - expected[i]!)).toBeLessThan(1e-4));
    const everyLoop = tf.tidy(() =>
      depthForward(decoder, ids, {
        cache: decoder.newDepthCache('recursion-wise'),
        routing: tokenChoiceRouting(routers, { form: 'gated-every-loop' }),
      }).logits.dataSync(),
    );
    expect(Math.max(...everyLoop.map((x, i) => Math.abs(x - expected[i]!)))).toBeGreaterThan(1e-3);
  });

  it('leaves no tensors behind', () => {
    const before = tf.memory().numTensors;
    for (const mode of modes) run(mode, threshold, ids, 4);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('exitReadouts', () => {
  it('equal depthForward at each fixed depth, in one pass over the loops', () => {
    const readouts = tf.tidy(() => exitReadouts(decoder, ids).map((l) => l.dataSync()));
    for (let d = 1; d <= N; d++) {
      const fixed = run('copy', () => earlyExitRouting({ kind: 'fixed', depth: d }));
      fixed.logits.forEach((x, i) => expect(Math.abs(x - readouts[d - 1]![i]!)).toBeLessThan(1e-4));
    }
  });
});
