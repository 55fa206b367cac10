import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { Decoder, type DecoderConfig } from '@recur/graph';
import { AdamW, languageModelObjective, Trainer, withVariables } from '../src/index.js';
import {
  loadLatestCheckpoint,
  modelIdentity,
  resumeTraining,
  saveCheckpoint,
  TrainCheckpointError,
} from '../src/node/index.js';
import { CyclingSource, tinyConfig, tinyWeights } from './trainerFixtures.js';

const config: DecoderConfig = { ...tinyConfig, layerOrder: [0, 1, 0, 1] };

/** A whole run's in-memory state, built from plain tensors (as a fresh process would). */
function run(weights: ReadonlyMap<string, tf.Tensor>, seed: number) {
  const { tensors, variables } = withVariables(weights, () => true);
  const model = new Decoder(config, tensors);
  const optimizer = new AdamW(variables, { weightDecay: 0.05, beta2: 0.99 });
  const trainer = new Trainer({
    params: variables,
    optimizer,
    source: new CyclingSource(32, 2, 12),
    seed,
    accumulation: 2,
    clipNorm: 1,
    objective: languageModelObjective({ model }),
    schedule: { kind: 'wsd', peakLr: 5e-3, warmupSteps: 3, totalSteps: 20, decayFraction: 0.3 },
  });
  return {
    trainer,
    tensors,
    dispose: () => {
      model.dispose();
      optimizer.dispose();
    },
  };
}

describe('resume from a training checkpoint', () => {
  let root = '';
  beforeAll(async () => {
    await initBackend();
    root = await mkdtemp(join(tmpdir(), 'recur-resume-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('20 steps straight == 10 steps, save, rebuild everything from the checkpoint, 10 more (exact losses)', async () => {
    const init = tinyWeights(config);
    const straight = run(init, 5);
    const expected = Array.from({ length: 20 }, () => straight.trainer.trainStep().loss);
    straight.dispose();

    const first = run(init, 5);
    const losses = Array.from({ length: 10 }, () => first.trainer.trainStep().loss);
    const identity = modelIdentity(config, first.tensors);
    await saveCheckpoint(root, {
      trainer: first.trainer,
      model: first.tensors,
      identity,
      options: { note: 'resume test' },
    });
    first.dispose();
    tf.dispose([...init.values()]);

    const loaded = (await loadLatestCheckpoint(root))!;
    expect(loaded.state.step).toBe(10);
    expect(loaded.state.options).toEqual({ note: 'resume test' });
    const weights = new Map([...loaded.tensors].map(([n, t]) => [n, tf.tensor(t.data, t.shape)]));
    const second = run(weights, 12345); // another seed: the checkpoint's RNG state must win
    tf.dispose([...weights.values()]);
    resumeTraining(second.trainer, loaded, modelIdentity(config, second.tensors));
    expect(second.trainer.step).toBe(10);
    losses.push(...Array.from({ length: 10 }, () => second.trainer.trainStep().loss));
    expect(losses).toEqual(expected);
    second.dispose();
  });

  it('refuses a checkpoint of another model, naming the file and field', async () => {
    const loaded = (await loadLatestCheckpoint(root))!;
    const other = run(tinyWeights(config), 1);
    const wrongConfig = modelIdentity({ ...config, ropeTheta: 500 }, other.tensors);
    expect(() => resumeTraining(other.trainer, loaded, wrongConfig)).toThrow(TrainCheckpointError);
    expect(() => resumeTraining(other.trainer, loaded, wrongConfig)).toThrow(
      /state\.json: identity\.configHash .* differs/,
    );
    const shapes = new Map(
      [...other.tensors].map(([n, t]) => [n, { shape: n === 'model.norm.weight' ? [17] : t.shape }]),
    );
    expect(() => resumeTraining(other.trainer, loaded, modelIdentity(config, shapes))).toThrow(
      /identity\.tensors\.model\.norm\.weight is \[16\] but this model's is \[17\]/,
    );
    other.dispose();
  });
});
