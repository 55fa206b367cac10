// pnpm demo — the main job. With no argument: Recur's own default model (models/default, made by
// `pnpm train:default`) is converted into a recursive model (one shared block looped twice) and a
// relaxed recursive one (plus depth-wise LoRA), each briefly uptrained with distillation from the
// original; prints parameters and held-out perplexity for all three and a greedy sample from each.
// `pnpm demo MODEL` instead inspects, scores and generates with any model.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const corpus = `${root}../shared/corpora/tinystories_val/tinystories_val.txt`;

if (process.argv[2]) inspectScoreGenerate(process.argv[2]);
else await defaultJob();

async function defaultJob() {
  const { initBackend } = await import('../packages/tensor/dist/index.js');
  const { convertModel, disposeModel, generate } = await import('../packages/engine/dist/index.js');
  const { heldOutLoss, loadModel, trainModel, trainingData } = await import('../packages/engine/dist/node.js');
  const started = performance.now();
  const threads = Number(process.env.RECUR_THREADS ?? 1);
  await initBackend({ threads });
  const original = await loadModel(`${root}models/default`);
  const cache = `${root}.cache/demo`;
  // The same held-out documents the default model never saw (last 10% of the corpus), 64 windows of 128 tokens.
  const data = await trainingData({
    textFile: corpus,
    tokenizer: original.tokenizer,
    tokenizerIdentity: 'recur-default',
    cacheDir: cache,
    seqLen: 128,
    batchSize: 4,
    valFraction: 0.1,
    seed: 0,
  });
  const windows = data.validation.slice(0, 64);
  /** @typedef {import('../packages/engine/dist/index.js').LoadedModel} LoadedModel */
  const ppl = (/** @type {LoadedModel} */ model) => Math.exp(heldOutLoss(model.decoder, windows).meanNll);
  const sample = async (/** @type {LoadedModel} */ model) =>
    (await generate(model, { prompt: 'Once upon a time', maxNewTokens: 40, temperature: 0 })).text;
  /** @type {{ name: string, options: import('../packages/engine/dist/index.js').ConvertOptions }[]} */
  const conversions = [
    {
      name: 'recursive (middle-cycle, 2 loops, no LoRA)',
      options: {
        strategy: 'middle-cycle',
        loops: 2,
        init: 'lower',
        ranks: { attention: 0, mlp: 0 },
        loraInit: 'svd',
        norms: 'per-loop',
      },
    },
    {
      name: 'relaxed recursive (+ depth-wise LoRA r=8)',
      options: {
        strategy: 'middle-cycle',
        loops: 2,
        init: 'lower',
        ranks: { attention: 8, mlp: 8 },
        loraInit: 'svd',
        norms: 'per-loop',
      },
    },
  ];
  /** @type {{ name: string, params: number, converted: number, uptrained: number | null, text: string }[]} */
  const rows = [
    {
      name: 'original',
      params: original.decoder.parameterCount,
      converted: ppl(original),
      uptrained: null,
      text: await sample(original),
    },
  ];
  for (const { name, options } of conversions) {
    const converted = await convertModel(original, options);
    const params = converted.parameters.shared + converted.parameters.lora;
    const before = ppl(converted);
    const out = `${cache}/${options.ranks.attention === 0 ? 'recursive' : 'relaxed'}`;
    rmSync(out, { recursive: true, force: true });
    await trainModel({
      model: converted,
      teacher: original,
      distillation: { alpha: 0.5, temperature: 2 },
      textFile: corpus,
      out,
      steps: 40,
      seqLen: 128,
      batchSize: 4,
      trainable: 'shared+lora',
      schedule: { kind: 'cosine', peakLr: 3e-3, warmupSteps: 4, totalSteps: 40 },
      valFraction: 0.1,
      evalEvery: 0,
      saveEvery: 0,
      evalWindows: 1,
    });
    const trained = await loadModel(`${out}/model`);
    rows.push({ name, params, converted: before, uptrained: ppl(trained), text: await sample(trained) });
    disposeModel(trained);
    disposeModel(converted);
  }
  const fmt = (/** @type {number} */ n) => n.toLocaleString('en-US');
  const table = [
    ['model', 'unique parameters', 'held-out ppl (converted)', 'after 40-step uptraining'],
    ...rows.map((r) => [
      r.name,
      fmt(r.params),
      r.converted.toFixed(2),
      r.uptrained === null ? '—' : r.uptrained.toFixed(2),
    ]),
  ];
  const widths = /** @type {string[]} */ (table[0]).map((_, c) =>
    Math.max(...table.map((row) => /** @type {string} */ (row[c]).length)),
  );
  console.log(
    `\nRecur's default model (models/default: ${fmt(original.decoder.parameterCount)} parameters, trained by pnpm train:default), held-out TinyStories documents:\n`,
  );
  for (const row of table) console.log(row.map((cell, c) => cell.padEnd(/** @type {number} */ (widths[c]))).join('  '));
  console.log('\nGreedy continuations of "Once upon a time":');
  for (const r of rows) console.log(`- ${r.name}: ${JSON.stringify(r.text)}`);
  console.log(
    `\n(${((performance.now() - started) / 1000).toFixed(0)} s; uptraining = knowledge distillation from the original, alpha 0.5, T 2, shared block + LoRA trained; see README for the full commands)`,
  );
  disposeModel(original);
}

/** @param {string} model */
function inspectScoreGenerate(model) {
  const recur = (/** @type {string[]} */ ...args) =>
    execFileSync(process.execPath, [`${root}apps/cli/dist/recur.js`, ...args], { stdio: 'inherit' });
  try {
    console.log(`== recur inspect ${model}`);
    recur('inspect', model);
    if (existsSync(corpus)) {
      console.log('\n== recur eval (first 16 KiB of the TinyStories validation slice, 256-token windows)');
      recur('eval', '--model', model, '--data', corpus, '--max-bytes', '16384', '--window', '256');
    }
    console.log('\n== recur generate (greedy)');
    recur('generate', '--model', model, '--prompt', 'Once upon a time', '--max-new-tokens', '80', '--temperature', '0');
  } catch {
    process.exit(1); // the CLI has already printed its one-line reason
  }
}
