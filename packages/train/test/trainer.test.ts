import { beforeAll, describe, expect, it } from 'vitest';
import { crossEntropy, initBackend, tf } from '@recur/tensor';
import { Decoder, type DecoderConfig } from '@recur/graph';
import { DepthwiseLora, loraKey } from '@recur/lora';
import {
  AdamW,
  TrainingDivergedError,
  isTrainable,
  languageModelObjective,
  Trainer,
  withVariables,
  type BatchSource,
  type Objective,
  type TrainerOptions,
} from '../src/index.js';
import { CyclingSource, tinyConfig, tinyWeights } from './trainerFixtures.js';

interface Setup {
  readonly trainer: Trainer;
  readonly model: Decoder;
  readonly variables: Map<string, tf.Variable>;
  dispose(): void;
}

function setup(
  source: BatchSource,
  options: Partial<Omit<TrainerOptions, 'objective'>> & {
    objective?: (m: Decoder) => Objective;
    config?: DecoderConfig;
  } = {},
): Setup {
  const config = options.config ?? tinyConfig;
  const weights = tinyWeights(config);
  const { tensors, variables } = withVariables(weights, () => true);
  tf.dispose([...weights.values()]);
  const model = new Decoder(config, tensors);
  const optimizer = new AdamW(variables, { weightDecay: 0.1 });
  const trainer = new Trainer({
    params: variables,
    optimizer,
    source,
    objective: options.objective?.(model) ?? languageModelObjective({ model }),
    schedule: options.schedule ?? { kind: 'cosine', peakLr: 1e-2, warmupSteps: 2, totalSteps: 40 },
    ...(options.accumulation ? { accumulation: options.accumulation } : {}),
    ...(options.clipNorm ? { clipNorm: options.clipNorm } : {}),
  });
  return {
    trainer,
    model,
    variables,
    dispose: () => {
      model.dispose();
      optimizer.dispose();
    },
  };
}

/** The per-loop hook's test loss: every loop state but the last through the final norm + head, CE summed. */
const exitLoss =
  (model: Decoder) =>
  (states: readonly tf.Tensor2D[], targets: Int32Array): tf.Scalar =>
    tf.tidy(() => tf.addN(states.slice(0, -1).map((h) => crossEntropy(model.head(h), targets))) as tf.Scalar);

const snapshot = (vars: ReadonlyMap<string, tf.Variable>) =>
  new Map([...vars].map(([n, v]) => [n, v.dataSync().slice() as Float32Array]));

describe('Trainer', () => {
  beforeAll(() => initBackend());

  it('reports loss, lr, gradient norm and tokens per step, and the loss falls', () => {
    const run = setup(new CyclingSource(32, 4, 12), { clipNorm: 1 });
    const results = Array.from({ length: 30 }, () => run.trainer.trainStep());
    expect(results[0]).toMatchObject({ step: 0, lr: 5e-3, tokens: 48 });
    expect(results[0]!.gradNorm).toBeGreaterThan(0);
    expect(results[0]!.loss).toBeCloseTo(Math.log(32), 0); // near-uniform at init
    const early = results.slice(0, 3).reduce((s, r) => s + r.loss, 0) / 3;
    const late = results.slice(-3).reduce((s, r) => s + r.loss, 0) / 3;
    expect(late).toBeLessThan(early - 0.5);
    run.dispose();
  });

  it('gradient accumulation over 2 micro-batches of 2 equals one step on the batch of 4', () => {
    // Micro-batches are consecutive calls to the same kind of source, so the batch-of-4 source yields the same 4 rows.
    const micro = setup(new CyclingSource(32, 2, 10), { accumulation: 2 });
    const whole = setup(new CyclingSource(32, 4, 10));
    const a = micro.trainer.trainStep();
    const b = whole.trainer.trainStep();
    expect(a.tokens).toBe(b.tokens);
    expect(a.loss).toBeCloseTo(b.loss, 5);
    expect(a.gradNorm).toBeCloseTo(b.gradNorm, 4);
    const after = snapshot(whole.variables);
    let worst = 0;
    for (const [name, values] of snapshot(micro.variables))
      values.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - after.get(name)![i]!))));
    expect(worst).toBeLessThan(1e-6);
    micro.dispose();
    whole.dispose();
  });

  it('leaves tf.memory().numTensors unchanged by a step once optimizer state exists (step 2 vs step 5)', () => {
    const run = setup(new CyclingSource(32, 2, 8), { accumulation: 2, clipNorm: 0.5 });
    run.trainer.trainStep();
    run.trainer.trainStep();
    const after2 = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run.trainer.trainStep();
    expect(tf.memory().numTensors).toBe(after2);
    run.dispose();
  });

  it('adds a per-loop loss on every loop state (early exit) and still trains', async () => {
    const looped: DecoderConfig = { ...tinyConfig, layerOrder: [0, 1, 0, 1] };
    const run = setup(new CyclingSource(32, 2, 8), {
      config: looped,
      objective: (model) => languageModelObjective({ model, perLoopLoss: exitLoss(model) }),
    });
    const seq = new CyclingSource(32, 1, 8).next()[0]!;
    const plain = languageModelObjective({ model: run.model });
    const ctx = { step: 0, rng: { next: () => 0 } } as never;
    const withExit = languageModelObjective({ model: run.model, perLoopLoss: exitLoss(run.model) })
      .loss([seq], [], ctx)
      .dataSync()[0]!;
    const main = plain.loss([seq], [], ctx).dataSync()[0]!;
    // Loop 0's exit: its hidden state through the final norm and head.
    const states: tf.Tensor2D[] = [];
    const onLoopEnd = (loop: number, h: tf.Tensor2D): void => {
      states[loop] = tf.keep(h);
    };
    run.model.forward(seq.subarray(0, 8), { onLoopEnd }).dispose();
    const exit0 = tf.tidy(() => crossEntropy(run.model.head(states[0]!), seq.subarray(1))).dataSync()[0]!;
    tf.dispose(states);
    expect(withExit).toBeCloseTo(main + exit0, 5);
    const first = run.trainer.trainStep().loss;
    for (let i = 0; i < 10; i++) run.trainer.trainStep();
    expect(run.trainer.trainStep().loss).toBeLessThan(first);
    run.dispose();
  });

  it('trains depth-wise LoRA alone: factors and per-loop norms move, shared weights stay', () => {
    const config: DecoderConfig = { ...tinyConfig, layerOrder: [0, 1, 0, 1] };
    const base = tinyWeights(config);
    const lora = new Map<string, tf.Tensor>();
    for (const unique of [0, 1]) {
      for (const loop of [0, 1]) {
        lora.set(
          loraKey(unique, 'self_attn.q_proj', loop, 'A'),
          tf.randomNormal([2, 16], 0, 0.2, 'float32', unique * 2 + loop),
        );
        lora.set(loraKey(unique, 'self_attn.q_proj', loop, 'B'), tf.zeros([16, 2]));
        lora.set(
          loraKey(unique, 'mlp.down_proj', loop, 'A'),
          tf.randomNormal([2, 32], 0, 0.2, 'float32', 9 + unique * 2 + loop),
        );
        lora.set(loraKey(unique, 'mlp.down_proj', loop, 'B'), tf.zeros([16, 2]));
        lora.set(`model.layers.${unique}.input_layernorm.loop${loop}.weight`, tf.ones([16]));
      }
    }
    const all = new Map([...base, ...lora]);
    const { tensors, variables } = withVariables(all, (n) => isTrainable(n, 'lora'));
    expect(variables.size).toBe(lora.size);
    const adapter = new DepthwiseLora(new Map([...tensors].filter(([n]) => lora.has(n))));
    const model = new Decoder(config, new Map([...tensors].filter(([n]) => base.has(n))), { adapter });
    const optimizer = new AdamW(variables);
    const trainer = new Trainer({
      params: variables,
      optimizer,
      objective: languageModelObjective({ model }),
      schedule: { kind: 'constant', lr: 1e-2 },
      source: new CyclingSource(32, 2, 8),
    });
    const q0 = base.get('model.layers.0.self_attn.q_proj.weight')!.dataSync().slice();
    const losses = Array.from({ length: 15 }, () => trainer.trainStep().loss);
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    expect(Array.from(base.get('model.layers.0.self_attn.q_proj.weight')!.dataSync())).toEqual(Array.from(q0));
    const b = variables.get(loraKey(1, 'mlp.down_proj', 1, 'B'))!.dataSync();
    expect(Math.max(...Array.from(b, Math.abs))).toBeGreaterThan(0);
    const norm = variables.get('model.layers.1.input_layernorm.loop1.weight')!.dataSync();
    expect(Array.from(norm).some((v) => v !== 1)).toBe(true);
    optimizer.dispose();
    tf.dispose([...base.values(), ...lora.values(), ...variables.values()]);
  });

  it('selects trainable parameters: lora, shared+lora, all', () => {
    const names = [
      'model.embed_tokens.weight',
      'lm_head.weight',
      'model.norm.weight',
      'model.layers.0.self_attn.q_proj.weight',
      'model.layers.0.self_attn.q_proj.lora_A.loop1.weight',
      'model.layers.0.mlp.up_proj.lora_B.loop0.weight',
      'model.layers.0.post_attention_layernorm.loop2.weight',
      // generated LoRA kinds (hyper, scaled) select as LoRA too
      'model.lora_hyper.loop_embedding.weight',
      'model.lora_hyper.mlp.up_proj.B_generator.weight',
      'model.layers.0.lora_hyper.position_embedding.weight',
      'model.layers.0.self_attn.q_proj.lora_A.template.weight',
      'model.layers.0.self_attn.q_proj.lora_scale.weight',
    ];
    const pick = (s: 'lora' | 'shared+lora' | 'all') => names.filter((n) => isTrainable(n, s));
    expect(pick('lora')).toEqual(names.slice(4));
    expect(pick('shared+lora')).toEqual(names.slice(2));
    expect(pick('all')).toEqual(names);
  });

  it('stops at a non-finite loss or gradient norm with a typed error naming the step, before the update', () => {
    for (const [factor, pattern] of [
      [NaN, /step 2: loss is NaN/],
      [Infinity, /step 2: loss is Infinity/],
    ] as const) {
      const w = tf.variable(tf.ones([2]));
      const params = new Map([['w', w]]);
      const optimizer = new AdamW(params);
      // A loss that is finite on the first step and blows up on the second.
      const objective: Objective = {
        loss: (_b, _p, { step }) => tf.mul(tf.sum(tf.square(w)), step === 0 ? 1 : factor),
      };
      const trainer = new Trainer({
        params,
        optimizer,
        objective,
        source: new CyclingSource(32, 1, 4),
        schedule: { kind: 'constant', lr: 0.1 },
      });
      trainer.trainStep();
      const good = w.dataSync().slice();
      const tensors = tf.memory().numTensors;
      expect(() => trainer.trainStep()).toThrow(TrainingDivergedError);
      expect(() => trainer.trainStep()).toThrow(pattern);
      expect(trainer.step).toBe(1); // the failed step is not counted
      expect(Array.from(w.dataSync())).toEqual(Array.from(good)); // and its update is not applied
      expect(tf.memory().numTensors).toBe(tensors);
      optimizer.dispose();
      w.dispose();
    }
  });

  it('refuses bad options', () => {
    const v = new Map([['w', tf.variable(tf.ones([2]))]]);
    const opt = new AdamW(new Map());
    const objective: Objective = { loss: () => tf.scalar(0) };
    const base = {
      params: v,
      optimizer: opt,
      objective,
      source: new CyclingSource(32, 1, 4),
      schedule: { kind: 'constant', lr: 1 },
    } as const;
    expect(() => new Trainer(base)).toThrow(/parameter w is not held by the optimizer/);
    expect(() => new Trainer({ ...base, optimizer: new AdamW(v), accumulation: 0 })).toThrow(
      /accumulation must be a positive integer/,
    );
    tf.dispose([...v.values()]);
  });
});
