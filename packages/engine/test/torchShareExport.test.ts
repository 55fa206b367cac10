import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { masaModules } from '@recur/sharing';
import { initBackend, Mulberry32, tf } from '@recur/tensor';
import { languageModelObjective, registerGradients, type TrainableSelection } from '@recur/train';
import { convertMasa, convertModel, disposeModel, generate, type LoadedModel } from '../src/index.js';
import { exportTorch, loadModel, trainableModel } from '../src/node/index.js';
import { hfPath } from './stories260k.js';
import { maxAbsDiff, runPython, torchPython } from './torch/python.js';

// `recur export --torch` of the shared forms (issue 17 → PyTorch): scaled, hyper and MoS LoRA and MASA atoms go
// out as Recur stores them (no materialising); modeling_recur.py's logits, greedy tokens, loss and gradients
// equal Recur's, and a folder PyTorch trained and saved loads back in Recur, same kind, with equal logits.
const python = torchPython();
const driver = fileURLToPath(new URL('./torch/check_export.py', import.meta.url));
const LOGITS_TOL = 1e-4;
const GRAD_TOL = 1e-4;
const context = { step: 0, rng: new Mulberry32(0) };

interface PythonOut {
  logits: Record<string, number[][]>;
  greedy: number[];
  train: { loss: number; grads: Record<string, number[]> };
  trainedLogits: number[][];
}

/** A shared form: how it converts, what trains, and the marker a reloaded model must carry. */
interface Kind {
  readonly name: string;
  readonly convert: (source: LoadedModel) => Promise<LoadedModel>;
  readonly trainable: TrainableSelection;
  readonly storedAs: (model: LoadedModel) => string | undefined;
  /** A stored tensor name that must be in the export (the native form, not materialised factors). */
  readonly tensor: string;
}

const looped = {
  strategy: 'middle-cycle',
  loops: 2,
  init: 'stepwise',
  ranks: { attention: 4, mlp: 4 },
  norms: 'tied',
} as const;
const generatedKind = (m: LoadedModel) => m.generatedLora?.spec.kind;
const kinds: Kind[] = [
  {
    name: 'scaled LoRA (svd, per-loop norms, scale 0.5)',
    convert: (s) =>
      convertModel(s, { ...looped, loraKind: 'scaled', loraInit: 'svd', norms: 'per-loop', loraScale: 0.5 }),
    trainable: 'lora',
    storedAs: generatedKind,
    tensor: 'model.layers.1.self_attn.q_proj.lora_scale.weight',
  },
  {
    name: 'hyper LoRA (svd fit, H = 3)',
    convert: (s) => convertModel(s, { ...looped, loraKind: 'hyper', loraInit: 'svd', hyper: { hyperDim: 3 } }),
    trainable: 'lora',
    storedAs: generatedKind,
    tensor: 'model.lora_hyper.mlp.down_proj.B_generator.weight',
  },
  {
    name: 'MoS LoRA (pool 8, 2 shards, 25% private)',
    convert: (s) =>
      convertModel(s, {
        ...looped,
        loraKind: 'mos',
        loraInit: 'zero',
        mos: { pool: 8, shards: 2, private: 0.25, subset: true, dissociation: true, seed: 3 },
      }),
    trainable: 'lora',
    storedAs: (m) => (m.mos ? 'mos' : undefined),
    tensor: 'mos.mlp.up_proj.index_B',
  },
  {
    name: 'MASA attention (2 atoms of 5 layers)',
    convert: (s) => convertMasa(s, { atoms: 2, modules: masaModules }),
    trainable: 'shared+lora',
    storedAs: (m) => (m.masa ? 'masa' : undefined),
    tensor: 'masa.self_attn.o_proj.atoms',
  },
];

describe.skipIf(!python)('recur export --torch of shared forms: the PyTorch model equals Recur', () => {
  let dir = '';
  let source: LoadedModel;
  let ids: number[];
  let batch: Int32Array[];
  beforeAll(async () => {
    await initBackend();
    registerGradients();
    dir = await mkdtemp(join(tmpdir(), 'recur-torchshare-'));
    source = await loadModel(hfPath);
    ids = source.tokenizer.encode('Once upon a time, there was a little girl named Lily. She loved to play', {
      addBos: true,
    });
    const text = source.tokenizer.encode('Tom and his dog went to the park. They ran and jumped in the sun.', {
      addBos: true,
    });
    batch = [Int32Array.from(text.slice(0, 15)), Int32Array.from(text.slice(3, 18))];
  });
  afterAll(async () => {
    disposeModel(source);
    await rm(dir, { recursive: true, force: true });
  });

  it.each(kinds)('$name: logits, greedy tokens, loss and gradients; trained folder reloads in Recur', async (kind) => {
    const model = await kind.convert(source);
    const folder = join(dir, kind.name.replace(/\W+/g, '-'));
    await exportTorch(model, folder);
    expect(await storedNames(folder)).toContain(kind.tensor);
    const py = runPython<PythonOut>(python!, [driver], {
      dir: folder,
      ids,
      routings: ['none'],
      greedy: { prompt: [1], n: 12 },
      train: { batch: batch.map((s) => Array.from(s)), lr: 0.05, trainable: kind.trainable },
      save: `${folder}-trained`,
    });
    const logits = tf.tidy(() => model.decoder.forward(ids).arraySync());
    expect(maxAbsDiff(py.logits.none!, logits), 'logits').toBeLessThan(LOGITS_TOL);
    const greedy = await generate(model, {
      prompt: '',
      promptIds: [1],
      maxNewTokens: 12,
      temperature: 0,
      stopAtEos: false,
    });
    expect(py.greedy).toEqual(greedy.ids);
    expectSameTraining(py, lossAndGrads(model, kind.trainable, batch));

    const trained = await loadModel(`${folder}-trained`);
    expect(kind.storedAs(trained), 'reloaded in its own form').toBe(kind.storedAs(model));
    const reloaded = tf.tidy(() => trained.decoder.forward(ids).arraySync());
    expect(maxAbsDiff(py.trainedLogits, reloaded), 'reloaded logits').toBeLessThan(LOGITS_TOL);
    expect(maxAbsDiff(py.trainedLogits, py.logits.none!)).toBeGreaterThan(1e-4); // the step did change the model
    expect((await storedNames(`${folder}-trained`)).sort()).toEqual((await storedNames(folder)).sort());
    disposeModel(trained);
    disposeModel(model);
  });
});

/** Tensor names of a folder's model.safetensors (its JSON header). */
async function storedNames(folder: string): Promise<string[]> {
  const bytes = await readFile(join(folder, 'model.safetensors'));
  const size = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + size).toString('utf8')) as Record<string, unknown>;
  return Object.keys(header).filter((name) => name !== '__metadata__');
}

function expectSameTraining(py: PythonOut, recur: { loss: number; grads: Map<string, number[]> }): void {
  expect(Math.abs(py.train.loss - recur.loss), 'loss').toBeLessThan(1e-5);
  expect(Object.keys(py.train.grads).sort()).toEqual([...recur.grads.keys()].sort());
  // a reduce, not Math.max(...): shared+lora has more gradient entries than the call stack takes arguments
  const scale = [...recur.grads.values()].reduce((m, g) => g.reduce((n, x) => Math.max(n, Math.abs(x)), m), 0);
  for (const [key, g] of recur.grads)
    expect(maxAbsDiff(py.train.grads[key]!, g), key).toBeLessThan(GRAD_TOL * Math.max(1, scale));
}

/** Recur's training loss of `batch` under `selection` and its gradients by checkpoint key (the stored tensors'). */
function lossAndGrads(
  model: LoadedModel,
  selection: TrainableSelection,
  batch: Int32Array[],
): { loss: number; grads: Map<string, number[]> } {
  const trainable = trainableModel(model, selection);
  const objective = languageModelObjective({ model: trainable.model.decoder });
  const names = new Map([...trainable.params].map(([key, v]) => [v.name, key]));
  const { value, grads } = tf.variableGrads(() => objective.loss(batch, [], context), [...trainable.params.values()]);
  const out = new Map(Object.entries(grads).map(([v, g]) => [names.get(v)!, Array.from(g.dataSync())]));
  const loss = value.dataSync()[0]!;
  tf.dispose([value, ...Object.values(grads)]);
  disposeModel(trainable.model);
  return { loss, grads: out };
}
