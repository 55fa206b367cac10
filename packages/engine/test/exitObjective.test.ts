import { beforeAll, describe, expect, it } from 'vitest';
import { crossEntropy, initBackend, Mulberry32, tf } from '@recur/tensor';
import { Decoder, randomDecoder, type DecoderConfig } from '@recur/graph';
import { exitReadouts, exitStates, selfDistillationLoss } from '@recur/router';
import {
  AdamW,
  featureDistillationLoss,
  registerGradients,
  Trainer,
  withVariables,
  type BatchSource,
} from '@recur/train';
import { earlyExitObjective } from '../src/index.js';

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

class Repeat implements BatchSource {
  next(): Int32Array[] {
    return [seq, seq];
  }
  state(): unknown {
    return {};
  }
  restore(): void {}
}

beforeAll(async () => {
  await initBackend();
  registerGradients();
});

describe('earlyExitObjective', () => {
  it('is the weighted mean of every exit CE plus λ·self-distillation', () => {
    const model = randomDecoder(config, { seed: 2, std: 0.2 });
    const [got, expected] = tf.tidy(() => {
      const objective = earlyExitObjective({
        model,
        exit: { weights: [1, 0, 3], selfDistill: { weight: 0.5, temperature: 2 } },
      });
      const loss = objective.loss([seq], [], context);
      const readouts = exitReadouts(model, seq.subarray(0, 12));
      const ce = (d: number) => crossEntropy(readouts[d]!, seq.subarray(1)).dataSync()[0]!;
      const kl = selfDistillationLoss(readouts, { temperature: 2 }).dataSync()[0]!;
      return [loss.dataSync()[0]!, 0.25 * ce(0) + 0.75 * ce(2) + 0.5 * kl];
    });
    expect(got).toBeCloseTo(expected, 5);
    model.dispose();
  });

  it('dual self-distillation adds the feature MSE of the final-normed exit states to the logits KL', () => {
    const model = randomDecoder(config, { seed: 3, std: 0.2 });
    const loss = (kind: 'logits' | 'features' | 'dual') =>
      tf.tidy(() => {
        const exit = { selfDistill: { weight: 0.5, temperature: 2, kind } };
        return earlyExitObjective({ model, exit }).loss([seq], [], context).dataSync()[0]!;
      });
    const [ce, kl, feature] = tf.tidy(() => {
      const states = exitStates(model, seq.subarray(0, 12));
      const readouts = exitReadouts(model, seq.subarray(0, 12));
      const meanCe = readouts.reduce((a, r) => a + crossEntropy(r, seq.subarray(1)).dataSync()[0]!, 0) / 3;
      return [
        meanCe,
        selfDistillationLoss(readouts, { temperature: 2 }).dataSync()[0]!,
        featureDistillationLoss(states).dataSync()[0]!,
      ];
    });
    expect(feature).toBeGreaterThan(0);
    expect(loss('logits')).toBeCloseTo(ce + 0.5 * kl, 5);
    expect(loss('features')).toBeCloseTo(ce + 0.5 * feature, 5);
    expect(loss('dual')).toBeCloseTo(ce + 0.5 * (kl + feature), 5);
    model.dispose();
  });

  it('training with it lowers the shallowest exit loss and leaks no tensors', () => {
    const weights = randomDecoder(config, { seed: 4, std: 0.2 }).weights;
    const { tensors, variables } = withVariables(weights, () => true);
    tf.dispose([...weights.values()]);
    const model = new Decoder(config, tensors);
    const optimizer = new AdamW(variables, { weightDecay: 0 });
    const trainer = new Trainer({
      params: variables,
      optimizer,
      source: new Repeat(),
      objective: earlyExitObjective({ model, exit: { selfDistill: { weight: 0.1, temperature: 1 } } }),
      schedule: { kind: 'constant', lr: 1e-2 },
    });
    const exit1 = () =>
      tf.tidy(() => crossEntropy(exitReadouts(model, seq.subarray(0, 12))[0]!, seq.subarray(1)).dataSync()[0]!);
    const before = exit1();
    trainer.trainStep();
    const tensorsAfterOne = tf.memory().numTensors;
    for (let i = 0; i < 14; i++) trainer.trainStep();
    expect(tf.memory().numTensors).toBe(tensorsAfterOne);
    expect(exit1()).toBeLessThan(before - 0.5);
    model.dispose();
    optimizer.dispose();
  });
});
