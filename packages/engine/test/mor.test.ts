import { beforeAll, describe, expect, it } from 'vitest';
import { crossEntropy, initBackend, Mulberry32, tf } from '@recur/tensor';
import { Decoder, randomDecoder, type DecoderConfig } from '@recur/graph';
import { AdamW, registerGradients, Trainer, withVariables, type BatchSource } from '@recur/train';
import {
  morHeldOutLoss,
  morObjective,
  routedSequence,
  withRouter,
  type LoadedModel,
  type MorTraining,
} from '../src/index.js';

// MIDDLE-CYCLE: prologue layer, a 1-layer block looped 3 times, epilogue layer.
const config: DecoderConfig = {
  vocabSize: 24,
  hiddenSize: 16,
  intermediateSize: 24,
  numLayers: 3,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 4,
  maxPositionEmbeddings: 64,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieWordEmbeddings: true,
  layerOrder: [0, 1, 1, 1, 2],
};
const seq = Int32Array.from({ length: 13 }, (_, i) => (i * 5 + 3) % 24);
const context = { step: 0, rng: new Mulberry32(0) };
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

class Repeat implements BatchSource {
  next(): Int32Array[] {
    return [seq, seq];
  }
  state(): unknown {
    return {};
  }
  restore(): void {}
}

function tinyModel(decoder: Decoder, kind: 'expert' | 'token', c: DecoderConfig = config): LoadedModel {
  const plain = {
    decoder,
    config: c,
    tokenizer: undefined as never,
    source: { path: 'tiny', format: 'safetensors' as const },
    tensors: [],
    recur: { ...recur, layerOrder: [...(c.layerOrder ?? [])] },
  };
  return withRouter(plain as unknown as LoadedModel, { kind, seed: 3 });
}

const training = (kind: 'expert' | 'token'): MorTraining => ({
  kind,
  alpha: kind === 'expert' ? 0.5 : 1,
  kvMode: 'recursion-wise',
  zCoef: kind === 'expert' ? 1e-3 : 0,
});

beforeAll(async () => {
  await initBackend();
  registerGradients();
});

describe('withRouter', () => {
  it('adds fresh mor.* weights and recur.router; refuses plain models and sequence tying', () => {
    const decoder = randomDecoder(config, { seed: 1 });
    const expert = tinyModel(decoder, 'expert');
    expect([...expert.routerParams!.keys()]).toEqual([
      'mor.routers.0.weight',
      'mor.routers.1.weight',
      'mor.routers.2.weight',
    ]);
    expect(expert.recur?.router).toEqual({
      kind: 'expert',
      architecture: 'linear',
      alpha: 0.1,
      kvMode: 'recursion-wise',
    });
    const token = tinyModel(decoder, 'token');
    expect(token.routerParams!.get('mor.token_router.weight')!.shape).toEqual([3, 16]);
    const plain = { ...expert, recur: undefined } as LoadedModel;
    expect(() => withRouter(plain, { kind: 'expert' })).toThrow(/needs a recursive model/);
    // SEQUENCE: 1,1 then 2,2
    const seqDecoder = randomDecoder({ ...config, numLayers: 4, layerOrder: [0, 1, 1, 2, 2, 3] }, { seed: 1 });
    expect(() =>
      withRouter(
        { ...plain, decoder: seqDecoder, recur: { ...recur, strategy: 'sequence' } } as unknown as LoadedModel,
        { kind: 'token' },
      ),
    ).toThrow(/cycle or middle-cycle/);
    seqDecoder.dispose();
    tf.dispose([...expert.routerParams!.values(), ...token.routerParams!.values()]);
    decoder.dispose();
  });
});

describe.each(['expert', 'token'] as const)('morObjective (%s-choice)', (kind) => {
  it('is the LM loss under routing plus the auxiliary router losses', () => {
    const decoder = randomDecoder(config, { seed: 2, std: 0.2 });
    const model = tinyModel(decoder, kind);
    const objective = morObjective({ model: decoder, routerParams: model.routerParams!, mor: training(kind) });
    const [got, ce, aux] = tf.tidy(() => {
      const loss = objective.loss([seq], [], context).dataSync()[0]!;
      const routed = routedSequence(decoder, model.routerParams!, training(kind), seq.subarray(0, 12), 0);
      const out: [number, number, number] = [
        loss,
        crossEntropy(routed.logits, seq.subarray(1)).dataSync()[0]!,
        routed.aux.dataSync()[0]!,
      ];
      routed.cache.dispose();
      return out;
    });
    objective.dispose();
    expect(aux).toBeGreaterThan(0);
    expect(got).toBeCloseTo(ce + aux, 5);
    tf.dispose([...model.routerParams!.values()]);
    decoder.dispose();
  });

  it('training lowers the loss, moves the router and leaks no tensors', () => {
    const base = tinyModel(randomDecoder(config, { seed: 4, std: 0.2 }), kind);
    const weights = withVariables(base.decoder.weights, () => true);
    const router = withVariables(base.routerParams!, () => true);
    const params = new Map([...weights.variables, ...router.variables]);
    const decoder = new Decoder(config, weights.tensors);
    const objective = morObjective({ model: decoder, routerParams: router.tensors, mor: training(kind) });
    const optimizer = new AdamW(params, { weightDecay: 0 });
    const trainer = new Trainer({
      params,
      optimizer,
      source: new Repeat(),
      objective,
      schedule: { kind: 'constant', lr: 1e-2 },
    });
    const routerBefore = [...router.variables.values()].map((v) => v.dataSync().slice());
    const heldOut = () => morHeldOutLoss(decoder, router.tensors, training(kind), [seq]);
    const before = heldOut();
    trainer.trainStep();
    trainer.trainStep();
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 6; i++) trainer.trainStep();
    expect(tf.memory().numTensors).toBe(tensors);
    const after = heldOut();
    expect(after.meanNll).toBeLessThan(before.meanNll);
    expect(after.averageDepth).toBeGreaterThanOrEqual(1);
    const moved = [...router.variables.values()].some((v, i) => v.dataSync().some((x, j) => x !== routerBefore[i]![j]));
    expect(moved).toBe(true);
    objective.dispose();
    optimizer.dispose();
    tf.dispose([...params.values(), ...base.routerParams!.values()]);
    base.decoder.dispose();
  });
});
