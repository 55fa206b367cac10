import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { expertRouterPrefix, initScalarRouter, routerTensors } from '@recur/router';
import {
  calibrateRouterThresholds,
  convertModel,
  disposeModel,
  evaluateDepths,
  expertThresholds,
  generate,
  keepFractions,
  parseExitRule,
  routerAgreement,
  type LoadedModel,
} from '../src/index.js';
import { loadModel } from '../src/node/index.js';
import { corpusPath, hfPath } from './stories260k.js';

// stories260K converted to MIDDLE-CYCLE × 2 with rank-4 depth-wise LoRA: a prologue layer, a 2-layer
// block looped twice (each loop its own LoRA), an epilogue layer.
let source: LoadedModel;
let model: LoadedModel;
let windows: number[][];

beforeAll(async () => {
  await initBackend();
  source = await loadModel(hfPath);
  model = await convertModel(source, {
    strategy: 'middle-cycle',
    loops: 2,
    init: 'lower',
    ranks: { attention: 4, mlp: 4 },
    loraInit: 'svd',
    norms: 'tied',
  });
  const text = readFileSync(corpusPath('tinystories_val/tinystories_val.txt'), 'utf8').slice(0, 4000);
  const ids = model.tokenizer.encode(text, { addBos: false });
  windows = [0, 1, 2].map((w) => [model.tokenizer.bosId!, ...ids.slice(w * 40, w * 40 + 40)]);
}, 60_000);

afterAll(() => {
  disposeModel(model);
  disposeModel(source);
});

describe('per-token depth in the engine', () => {
  it('generating at full depth (fixed:2) gives the plain decoder greedy tokens; a fixed depth of 1 reports its depths', async () => {
    const plain = await generate(model, { prompt: 'Once upon a time', maxNewTokens: 24 });
    const full = await generate(model, {
      prompt: 'Once upon a time',
      maxNewTokens: 24,
      exit: parseExitRule('fixed:2'),
    });
    expect(full.ids).toEqual(plain.ids);
    expect(full.depths).toEqual(plain.ids.map(() => 2));
    const shallow = await generate(model, {
      prompt: 'Once upon a time',
      maxNewTokens: 24,
      exit: parseExitRule('fixed:1'),
    });
    // the prompt's last position ran full depth
    expect(shallow.depths).toEqual([2, ...shallow.ids.slice(1).map(() => 1)]);
  });

  it('eval: the deepest exit equals the decoder; a policy that never fires runs full depth; a loose one lowers the depth', () => {
    const before = tf.memory().numTensors;
    const never = evaluateDepths(model, { windows, rule: parseExitRule('maxprob:1') });
    const loose = evaluateDepths(model, { windows, rule: parseExitRule('maxprob:0.3') });
    expect(tf.memory().numTensors).toBe(before);
    let nll = 0;
    for (const w of windows) {
      nll += tf.tidy(() => {
        const logp = tf.logSoftmax(model.decoder.forward(w.slice(0, -1))).arraySync() as number[][];
        return -w.slice(1).reduce((s, id, t) => s + logp[t]![id]!, 0);
      });
    }
    const reference = Math.exp(nll / never.tokens);
    expect(never.perLoop.map((p) => p.depth)).toEqual([1, 2]);
    expect(never.perLoop[1]!.perplexity).toBeCloseTo(reference, 3);
    expect(never.policy!.perplexity).toBeCloseTo(reference, 3);
    expect(never.policy!.averageDepth).toBe(2);
    expect(loose.policy!.averageDepth).toBeLessThan(2);
    expect(loose.policy!.averageDepth).toBeGreaterThanOrEqual(1);
    expect(loose.policy!.depthCounts.reduce((a, b) => a + b, 0)).toBe(never.tokens - windows.length);
  });

  it('parses exit rules and names bad ones', () => {
    expect(parseExitRule('entropy:1.5')).toEqual({ kind: 'policy', policy: { kind: 'entropy', threshold: 1.5 } });
    expect(parseExitRule('router:0.4')).toEqual({ kind: 'router', threshold: 0.4 });
    for (const bad of ['maxprob', 'maxprob:2', 'fixed:0', 'fixed:1.5', 'router:1', 'sometimes:3', 'entropy:x'])
      expect(() => parseExitRule(bad)).toThrow(/exit rule/);
  });

  it('a MoR (expert-choice) model: router exits at decode time, and threshold vs top-k agreement is counted', async () => {
    const routerParams = new Map(
      [0, 1].flatMap((r) => [
        ...routerTensors(initScalarRouter(expertRouterPrefix(r), { hiddenSize: 64, std: 0.5, seed: r + 1 })),
      ]),
    );
    const mor: LoadedModel = {
      ...model,
      recur: {
        ...model.recur!,
        router: { kind: 'expert', architecture: 'linear', alpha: 0.1, kvMode: 'recursion-wise' },
      },
      routerParams,
    };
    const before = tf.memory().numTensors;
    const out = await generate(mor, { prompt: 'Once upon a time', maxNewTokens: 16, exit: parseExitRule('router') });
    expect(out.depths).toHaveLength(out.ids.length);
    // The library runs a router model with its router unless told otherwise (the playground's generate call passes no rule).
    const byDefault = await generate(mor, { prompt: 'Once upon a time', maxNewTokens: 16 });
    expect([byDefault.ids, byDefault.depths]).toEqual([out.ids, out.depths]);
    const full = await generate(mor, { prompt: 'Once upon a time', maxNewTokens: 16, fullDepth: true });
    expect(full.depths).toBeUndefined();
    await expect(
      generate(mor, { prompt: 'Once', maxNewTokens: 1, fullDepth: true, exit: parseExitRule('router') }),
    ).rejects.toThrow(/exclude each other/);
    const scored = evaluateDepths(mor, { windows, rule: parseExitRule('router') });
    expect(scored.perLoop.map((p) => p.depth)).toEqual([1, 2]); // forced depths with the router's gates (routerPerLoop)
    for (const { perplexity } of scored.perLoop) expect(Number.isFinite(perplexity)).toBe(true);
    expect(evaluateDepths(mor, { windows, rule: parseExitRule('router'), perLoop: false }).perLoop).toEqual([]);
    expect(scored.policy!.averageDepth).toBeGreaterThanOrEqual(1);
    expect(scored.policy!.averageDepth).toBeLessThanOrEqual(2);
    const agreement = routerAgreement(mor, windows);
    expect(agreement.both + agreement.thresholdOnly + agreement.topKOnly + agreement.neither).toBe(
      windows.reduce((n, w) => n + w.length, 0),
    ); // recursion 1 sees every token
    expect(agreement.agreement).toBeGreaterThanOrEqual(0);
    expect(agreement.agreement).toBeLessThanOrEqual(1);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...routerParams.values()]);
  });

  it('calibrated thresholds keep the trained capacity; an explicit --exit router:T wins over them, and they win over a fixed threshold', () => {
    const routerParams = new Map(
      [0, 1].flatMap((r) => [
        ...routerTensors(initScalarRouter(expertRouterPrefix(r), { hiddenSize: 64, std: 0.5, seed: r + 7 })),
      ]),
    );
    const router = { kind: 'expert', architecture: 'linear', alpha: 0.1, kvMode: 'recursion-wise' } as const;
    const mor: LoadedModel = { ...model, recur: { ...model.recur!, router }, routerParams };
    const before = tf.memory().numTensors;
    const thresholds = calibrateRouterThresholds(mor, { windows });
    expect(thresholds).toHaveLength(2);
    expect(thresholds[0]).toBe(0);
    const calibrated: LoadedModel = { ...mor, recur: { ...mor.recur!, router: { ...router, thresholds } } };
    const routed = evaluateDepths(calibrated, { windows, rule: parseExitRule('router'), perLoop: false }).policy!;
    const [, keep] = keepFractions(routed.depthCounts);
    expect(keep!.capacity).toBe(0.5);
    // on its calibration windows: at capacity to half a token
    expect(Math.abs(keep!.fraction - 0.5)).toBeLessThanOrEqual(0.5 / routed.depthCounts.reduce((a, b) => a + b, 0));
    // Precedence: router:T > thresholds[r] > threshold > 0.5.
    const depthUnder = (m: LoadedModel, rule: string) =>
      evaluateDepths(m, { windows, rule: parseExitRule(rule), perLoop: false }).policy!.averageDepth;
    const keepAll = { ...router, threshold: 0.999999, thresholds: [0, 1e-9] };
    // calibrated beat the fixed threshold
    expect(depthUnder({ ...mor, recur: { ...mor.recur!, router: keepAll } }, 'router')).toBe(2);
    // an explicit T beats both
    expect(depthUnder({ ...mor, recur: { ...mor.recur!, router: keepAll } }, 'router:0.999999')).toBe(1);
    expect(depthUnder({ ...mor, recur: { ...mor.recur!, router: { ...router, threshold: 0.999999 } } }, 'router')).toBe(
      1,
    );
    expect(expertThresholds(keepAll, { kind: 'router', threshold: 0.3 })).toEqual({ threshold: 0.3 });
    expect(expertThresholds(keepAll, { kind: 'router' })).toEqual({ threshold: 0.999999, thresholds: [0, 1e-9] });
    expect(expertThresholds(router, { kind: 'router' })).toEqual({ threshold: 0.5 });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...routerParams.values()]);
  });

  it('refuses --exit router on a model without a router', async () => {
    await expect(generate(model, { prompt: 'Hi', maxNewTokens: 3, exit: parseExitRule('router') })).rejects.toThrow(
      /trained with a router/,
    );
  });

  it("refuses a fixed depth deeper than the model instead of running it at the model's depth", async () => {
    await expect(generate(model, { prompt: 'Hi', maxNewTokens: 3, exit: parseExitRule('fixed:3') })).rejects.toThrow(
      "exit rule fixed:3 exceeds the model's 2 loops",
    );
    expect(() => evaluateDepths(model, { windows, rule: parseExitRule('fixed:3') })).toThrow(/fixed:3 exceeds/);
    await expect(generate(source, { prompt: 'Hi', maxNewTokens: 3, exit: parseExitRule('fixed:2') })).rejects.toThrow(
      /exit rule needs a recursive model .*runs 1 loop/,
    );
    await expect(
      generate(source, { prompt: 'Hi', maxNewTokens: 3, exit: parseExitRule('maxprob:0.5') }),
    ).rejects.toThrow(/exit rule needs a recursive model .*runs 1 loop/);
  });
});
