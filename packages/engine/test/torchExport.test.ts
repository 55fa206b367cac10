import { spawnSync } from 'node:child_process';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { depthForward } from '@recur/router';
import { initBackend, Mulberry32, tf } from '@recur/tensor';
import { languageModelObjective, registerGradients } from '@recur/train';
import {
  convertModel,
  disposeModel,
  exitRouting,
  generate,
  morObjective,
  routedSequence,
  withRouter,
  type LoadedModel,
  type MorTraining,
} from '../src/index.js';
import { exportTorch, loadModel, trainableModel } from '../src/node/index.js';
import { corpusPath, hfPath } from './stories260k.js';
import { maxAbsDiff, runPython, torchPython } from './torch/python.js';

// `recur export --torch` against Recur itself (issue 20 §1): logits within 1e-4 and the same greedy tokens,
// the same training loss and LoRA/router gradients, and a PyTorch-trained folder that Recur reloads with equal logits.
const python = torchPython();
const driver = fileURLToPath(new URL('./torch/check_export.py', import.meta.url));
const LOGITS_TOL = 1e-4;
/** Gradients: float32 sums over a few thousand terms in another order; relative to the largest entry. */
const GRAD_TOL = 1e-4;
const context = { step: 0, rng: new Mulberry32(0) };

interface PythonOut {
  logits: Record<string, number[][]>;
  aux: Record<string, number | null>;
  greedy: number[];
  train: { loss: number; grads: Record<string, number[]> };
  trainedLogits: number[][];
}

if (!python && process.env.CI === 'true') {
  it('needs PyTorch under CI', () =>
    expect.fail('CI=true but no python3 imports torch: .ci/run installs python3-torch'));
}

describe.skipIf(!python)('recur export --torch: the PyTorch model equals Recur', () => {
  let dir = '';
  let source: LoadedModel;
  let relaxed: LoadedModel; // middle-cycle ×2 (2 shared layers), LoRA rank 4, per-loop norms
  let looped: LoadedModel; // middle-cycle ×3 (1 shared layer), LoRA at scale 0.5: what the routers route
  let ids: number[];
  let batch: Int32Array[];
  beforeAll(async () => {
    await initBackend();
    registerGradients();
    dir = await mkdtemp(join(tmpdir(), 'recur-torch-'));
    source = await loadModel(hfPath);
    const common = {
      strategy: 'middle-cycle',
      init: 'stepwise',
      ranks: { attention: 4, mlp: 4 },
      loraInit: 'svd',
      norms: 'per-loop',
    } as const;
    // Scale 1 here: at scale 2 this model's float32 logits are 2e-4 off its own float64 ones (in PyTorch alone), above the 1e-4 asked.
    relaxed = await convertModel(source, { ...common, loops: 2, depthFit: 'round' });
    looped = await convertModel(source, { ...common, loops: 3, loraScale: 0.5 });
    ids = source.tokenizer.encode('Once upon a time, there was a little girl named Lily. She loved to play outside', {
      addBos: true,
    });
    const text = source.tokenizer.encode(
      'Tom and his dog went to the park. They ran and jumped and had a lot of fun in the sun.',
      { addBos: true },
    );
    batch = [Int32Array.from(text.slice(0, 17)), Int32Array.from(text.slice(4, 21))];
  });
  afterAll(async () => {
    for (const m of [relaxed, looped, source]) disposeModel(m);
    await rm(dir, { recursive: true, force: true });
  });

  /** [name, model, whether Recur trains it (copy KV is an early-exit mode: Recur's autodiff has no gradient for its 3-D gathers)]. */
  const variants: [string, () => LoadedModel, boolean][] = [
    ['relaxed (no router)', () => relaxed, true],
    ['expert-choice, recursion-wise KV', () => withRouter(looped, { kind: 'expert', alpha: 0.5, seed: 7 }), true],
    [
      'expert-choice MLP router, KV sharing, calibrated thresholds',
      () =>
        withThresholds(
          withRouter(looped, { kind: 'expert', architecture: 'mlp', alpha: 0.5, kvMode: 'shared', seed: 8 }),
          [0, 0.499, 0.502],
        ),
      true,
    ],
    [
      'expert-choice, copy KV',
      () => withRouter(looped, { kind: 'expert', alpha: 0.5, kvMode: 'copy', seed: 9 }),
      false,
    ],
    ['token-choice (paper form), balancing loss', () => withRouter(looped, { kind: 'token', seed: 10 }), true],
    [
      'token-choice gated every loop, KV sharing, loss-free bias',
      () =>
        withBias(
          withRouter(looped, {
            kind: 'token',
            tokenForm: 'gated-every-loop',
            kvMode: 'shared',
            balance: 'loss-free',
            seed: 11,
          }),
          [0.01, -0.004, 0],
        ),
      true,
    ],
  ];

  it.each(variants)(
    '%s: logits, greedy tokens, training loss and gradients; save_pretrained reloads in Recur',
    async (name, make, trains) => {
      const model = make();
      const folder = join(dir, name.replace(/\W+/g, '-'));
      await exportTorch(model, folder);
      const router = model.recur?.router;
      const routings = router ? ['threshold', 'top-k'] : ['none'];
      const py = runPython<PythonOut>(python!, [driver], {
        dir: folder,
        ids,
        routings,
        greedy: { prompt: [1], n: 16 },
        train: { batch: batch.map((s) => Array.from(s)), lr: 0.05 },
        save: `${folder}-trained`,
      });

      expect(maxAbsDiff(py.logits[routings[0]!]!, recurLogits(model, ids)), 'logits').toBeLessThan(LOGITS_TOL);
      const mor = morTraining(model);
      if (mor) {
        const [logits, aux] = topK(model, mor, ids);
        expect(maxAbsDiff(py.logits['top-k']!, logits), 'top-k logits').toBeLessThan(LOGITS_TOL);
        expect(Math.abs(py.aux['top-k']! - aux)).toBeLessThan(1e-6);
      }
      const greedy = await generate(model, {
        prompt: '',
        promptIds: [1],
        maxNewTokens: 16,
        temperature: 0,
        stopAtEos: false,
        ...(router && { exit: { kind: 'router' } }),
      });
      expect(py.greedy).toEqual(greedy.ids);

      if (trains) expectSameTraining(py, lossAndGrads(model, mor, batch));
      const trained = await loadModel(`${folder}-trained`);
      expect(maxAbsDiff(py.trainedLogits, recurLogits(trained, ids)), 'reloaded logits').toBeLessThan(LOGITS_TOL);
      expect(maxAbsDiff(py.trainedLogits, py.logits[routings[0]!]!)).toBeGreaterThan(1e-4); // the step did change the model
      disposeModel(trained);
      if (model !== relaxed) tf.dispose([...model.routerParams!.values()]);
    },
  );

  it('torchrun DDP (2 processes, gloo, CPU) uptraining with distillation has the single process loss for the same global batch', async () => {
    const folder = join(dir, 'ddp');
    await exportTorch(relaxed, folder);
    const text = (await readFile(corpusPath('tinystories_val/tinystories_val.txt'), 'utf8')).slice(0, 4000);
    await writeFile(join(dir, 'tokens.json'), JSON.stringify(source.tokenizer.encode(text, { addBos: true })));
    const args = [
      '--model',
      folder,
      '--tokens',
      join(dir, 'tokens.json'),
      '--steps',
      '3',
      '--batch',
      '4',
      '--seq',
      '32',
      '--lr',
      '0.01',
      '--teacher',
      hfPath,
    ];
    const single = losses(python!, [join(folder, 'uptrain_recur.py'), ...args, '--out', join(dir, 'ddp-out')]);
    // --redirects/--tee spelled out: torch 1.13's launcher parses their default '0' to None under Python 3.11 (IntFlag iteration skips 0).
    const ddp = losses(python!, [
      '-m',
      'torch.distributed.run',
      '--standalone',
      '--nproc_per_node',
      '2',
      '--redirects',
      '2',
      '--tee',
      '1',
      '--log_dir',
      join(dir, 'torchrun-logs'),
      join(folder, 'uptrain_recur.py'),
      ...args,
    ]);
    expect(single).toHaveLength(3);
    expect(single[2]!).toBeLessThan(single[0]!);
    expect(maxAbsDiff(ddp, single)).toBeLessThan(1e-5);
    const back = await loadModel(join(dir, 'ddp-out')); // Recur reads the uptrained folder
    expect(back.recur?.layerOrder).toEqual(relaxed.recur?.layerOrder);
    disposeModel(back);
  });
});

function expectSameTraining(py: PythonOut, recur: { loss: number; grads: Map<string, number[]> }): void {
  expect(Math.abs(py.train.loss - recur.loss), 'loss').toBeLessThan(1e-5);
  expect(Object.keys(py.train.grads).sort()).toEqual([...recur.grads.keys()].sort());
  const scale = Math.max(...[...recur.grads.values()].flatMap((g) => g.map(Math.abs)));
  for (const [key, g] of recur.grads)
    expect(maxAbsDiff(py.train.grads[key]!, g), key).toBeLessThan(GRAD_TOL * Math.max(1, scale));
}

function withThresholds(model: LoadedModel, thresholds: number[]): LoadedModel {
  return { ...model, recur: { ...model.recur!, router: { ...model.recur!.router!, thresholds } } };
}

function withBias(model: LoadedModel, bias: number[]): LoadedModel {
  const params = new Map(model.routerParams!);
  params.get('mor.token_router.balance_bias')!.dispose();
  params.set('mor.token_router.balance_bias', tf.tensor1d(bias));
  return { ...model, routerParams: params };
}

/** The model's training routing, as `recur train` builds it from recur.router. */
function morTraining(model: LoadedModel): MorTraining | undefined {
  const router = model.recur?.router;
  if (!router) return undefined;
  const token =
    router.kind === 'token'
      ? ({ tokenForm: router.tokenForm ?? 'gated-every-loop', balance: router.balance ?? 'loss' } as const)
      : {};
  return { kind: router.kind, alpha: router.alpha, kvMode: router.kvMode, ...token };
}

/** Recur's logits [T, V] as eval and generate compute them: the router's decode-time rule, or the plain forward. */
function recurLogits(model: LoadedModel, ids: readonly number[]): number[][] {
  const router = model.recur?.router;
  if (!router) return tf.tidy(() => model.decoder.forward(ids).arraySync());
  const cache = model.decoder.newDepthCache(router.kvMode);
  const logits = tf.tidy(() =>
    depthForward(model.decoder, ids, { cache, routing: exitRouting(model, { kind: 'router' }) }).logits.arraySync(),
  );
  cache.dispose();
  return logits;
}

/** Logits and auxiliary loss under the training-time routing (expert-choice top-k capacity). */
function topK(model: LoadedModel, mor: MorTraining, ids: readonly number[]): [number[][], number] {
  let cache: { dispose(): void } | undefined;
  const out = tf.tidy(() => {
    const routed = routedSequence(model.decoder, model.routerParams!, mor, ids, Number.POSITIVE_INFINITY);
    cache = routed.cache;
    return [routed.logits.arraySync(), routed.aux.dataSync()[0]!] as [number[][], number];
  });
  cache?.dispose();
  return out;
}

/** Recur's training loss of `batch` (--trainable lora: LoRA, per-loop norms, router) and its gradients by checkpoint key. */
function lossAndGrads(
  model: LoadedModel,
  mor: MorTraining | undefined,
  batch: Int32Array[],
): { loss: number; grads: Map<string, number[]> } {
  const trainable = trainableModel(model, 'lora');
  const routed =
    mor && morObjective({ model: trainable.model.decoder, routerParams: trainable.model.routerParams!, mor });
  const objective = routed ?? languageModelObjective({ model: trainable.model.decoder });
  const names = new Map([...trainable.params].map(([key, v]) => [v.name, key]));
  const { value, grads } = tf.variableGrads(() => objective.loss(batch, [], context), [...trainable.params.values()]);
  const out = new Map(Object.entries(grads).map(([v, g]) => [names.get(v)!, Array.from(g.dataSync())]));
  const loss = value.dataSync()[0]!;
  tf.dispose([value, ...Object.values(grads)]);
  routed?.dispose();
  disposeModel(trainable.model);
  return { loss, grads: out };
}

/** The per-step losses uptrain_recur.py prints (one JSON line per step). */
function losses(python: string, args: string[]): number[] {
  const run = spawnSync(python, args, { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  if (run.status !== 0) throw new Error(`${args.join(' ')} exited ${run.status}: ${run.stderr.slice(-2000)}`);
  return run.stdout
    .trim()
    .split('\n')
    .filter((l) => l.includes('{"step"'))
    .map((l) => (JSON.parse(l.slice(l.indexOf('{'))) as { loss: number }).loss); // torchrun prefixes [default0]:
}
