import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corpora, corpusSlice, scratchDir, stories260K, trainBudget } from './support/fixtures.js';
import { expectOneLineFailure, greedyGenerate, recur, recurJson, trainJson } from './support/recur.js';

// `recur train --trainable dvpt` (DVPT, Ruan et al. 2023, arXiv 2309.06123) on a plain and on a converted
// model: only the DVPT modules train, they land in RUN/dvpt naming their base, generate/eval --dvpt run them
// on the tfjs path (the --json "path" says so), export refuses them in one line, and bad flags are refused.

const { hf } = stories260K;
const dir = scratchDir('recur-train-dvpt-');
const data = corpusSlice(join(dir, 'shakespeare.txt'), corpora.shakespeare, 12_000);
const budget = trainBudget({ data, steps: 3, lr: 0.02 });
const dvptFlags = ['--trainable', 'dvpt', '--dvpt-prompts', '4', '--dvpt-bottleneck', '8'];

const generated = (...args: string[]) => greedyGenerate({ tokens: 12 }, ...args);

describe('recur train --trainable dvpt', () => {
  const run = join(dir, 'plain');
  const folder = join(run, 'dvpt');

  it('trains only one shared DVPT module on a plain model and writes RUN/dvpt naming its base', async () => {
    const { json: summary } = await trainJson<{ trainedParameters: number; dvptDir: string; modelDir: string }>(
      hf,
      run,
      ...[...dvptFlags, '--dvpt-share', 'layers', ...budget],
      ...['--steps', '5'], // enough for greedy text to change within 12 tokens
    );
    expect(summary.trainedParameters).toBe(8 * 64 + 64 * 8 + 4 * 8); // down, up, prompts of one module
    expect(summary.dvptDir).toBe(folder);
    expect(existsSync(join(run, 'model'))).toBe(false);
    const config = JSON.parse(readFileSync(join(folder, 'dvpt_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ format: 'recur-dvpt', prompts: 4, bottleneck: 8, share: 'layers', modules: 1 });
    expect(config.base_model_name_or_path).toBe(hf);
    expect(config.recur_base_fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
  }, 240_000);

  it('generate and eval --dvpt run it on the tfjs path; the GGUF of the same weights accepts it', async () => {
    const plain = await generated('--model', hf);
    const adapted = await generated('--model', hf, '--dvpt', folder);
    expect(adapted.path).toBe('tfjs');
    expect(adapted.ids).not.toEqual(plain.ids);
    expect((await generated('--model', stories260K.gguf, '--dvpt', folder)).ids).toEqual(adapted.ids);
    const { json: scored } = await recurJson(
      'eval',
      '--model',
      hf,
      '--dvpt',
      folder,
      '--data',
      data,
      '--max-bytes',
      '2000',
      '--json',
    );
    expect(scored).toMatchObject({ path: 'tfjs' });
  }, 120_000);

  it('export refuses it in one line, as the model or as --dvpt', async () => {
    const refusal = /a DVPT module is input-dependent .* cannot be merged into dense weights or exported/;
    expectOneLineFailure(await recur('export', folder, '--out', join(dir, 'x')), refusal);
    expectOneLineFailure(
      await recur('export', hf, '--dvpt', folder, '--lora', 'merge', '--out', join(dir, 'y')),
      refusal,
    );
    expect(existsSync(join(dir, 'x')) || existsSync(join(dir, 'y'))).toBe(false);
  }, 60_000);

  it('refuses modules for another base, and bad or conflicting flags, in one line', async () => {
    const other = join(dir, 'other');
    cpSync(folder, other, { recursive: true });
    const file = join(other, 'dvpt_config.json');
    const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...config, recur_base_fingerprint: `sha256:${'0'.repeat(64)}` }));
    expectOneLineFailure(
      await recur('generate', '--model', hf, '--dvpt', other, '--max-new-tokens', '2'),
      /dvpt_config\.json: the DVPT modules were trained on .* modules for another base are refused/,
    );
    const out = (name: string) => ['--out', join(dir, name)];
    expectOneLineFailure(
      await recur('train', '--model', hf, ...out('a'), '--dvpt-prompts', '4', ...budget),
      /apply only with --trainable dvpt/,
    );
    expectOneLineFailure(
      await recur('train', '--model', hf, ...out('b'), ...dvptFlags, '--dvpt-share', 'rows', ...budget),
      /--dvpt-share must be one of layers, loops, none, got "rows"/,
    );
    expectOneLineFailure(
      await recur('train', '--model', hf, ...out('c'), ...dvptFlags, '--lora-rank', '2', ...budget),
      /--lora-rank trains a LoRA: give one of them/,
    );
    expectOneLineFailure(
      await recur('generate', '--model', hf, '--dvpt', folder, '--exit', 'fixed:1', '--max-new-tokens', '2'),
      /--dvpt runs every token through every step: not with --exit or --per-loop/,
    );
  }, 120_000);

  it('on a converted model: one module per block position shared across loops (--dvpt-share loops)', async () => {
    const rrt = join(dir, 'rrt');
    await recurJson(
      'convert',
      hf,
      '--out',
      rrt,
      '--loops',
      '2',
      '--lora-rank-attn',
      '2',
      '--lora-rank-mlp',
      '2',
      '--json',
    );
    const out = join(dir, 'rec');
    const { json: trained } = await trainJson<{ trainedParameters: number }>(
      rrt,
      out,
      ...dvptFlags,
      '--dvpt-share',
      'loops',
      ...budget,
    );
    const stored = (JSON.parse(readFileSync(join(rrt, 'config.json'), 'utf8')) as { num_hidden_layers: number })
      .num_hidden_layers;
    const { trainedParameters } = trained;
    expect(trainedParameters).toBe(stored * (8 * 64 + 64 * 8 + 4 * 8));
    const nll = async (...extra: string[]) => {
      const args = ['--model', rrt, ...extra, '--data', data, '--max-bytes', '2000', '--window', '64', '--json'];
      return (await recurJson<{ meanNll: number; path: string }>('eval', ...args)).json;
    };
    const [own, adapted] = [await nll(), await nll('--dvpt', join(out, 'dvpt'))];
    expect(Number.isFinite(adapted.meanNll)).toBe(true);
    expect(adapted.meanNll).not.toBe(own.meanNll);
    expect(adapted.path).toBe('tfjs');
    expectOneLineFailure(
      await recur('generate', '--model', hf, '--dvpt', join(out, 'dvpt'), '--max-new-tokens', '2'),
      /another base are refused|does not fit|missing DVPT tensor|shape/,
    );
  }, 300_000);
});
