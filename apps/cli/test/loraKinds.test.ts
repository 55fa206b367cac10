import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corpora, corpusSlice, scratchDir, stories260K } from './support/fixtures.js';
import { expectOneLineFailure, recur } from './support/recur.js';

// Issue 17 §3: recur convert --lora-kind hyper|scaled, and every command that takes the folder it writes.
const { hf } = stories260K;
const corpus = corpora.tinystories;
const json = <T>(text: string) => JSON.parse(text) as T;

describe.each([
  ['hyper', ['--hyper-dim', '2'], /hyper LoRA \(generated from loop and position embeddings, H = 2\)/],
  ['scaled', [], /scaled LoRA \(a template per layer, a scale per loop\)/],
] as const)('recur convert --lora-kind %s', (kind, flags, inspectLine) => {
  const dir = scratchDir(`recur-${kind}-cli-`);
  const model = join(dir, 'model');

  it('prints its unique parameters, and inspect, eval, generate, train and export take the folder', async () => {
    const args = ['--loops', '5', '--lora-rank-attn', '4', '--lora-rank-mlp', '4', '--json'];
    const convert = await recur('convert', hf, '--out', model, '--lora-kind', kind, ...flags, ...args);
    expect(convert.code).toBe(0);
    const summary = json<{ parameters: { lora: number }; loraKind: string; hyper?: { hyperDim: number } }>(
      convert.stdout,
    );
    expect(summary.loraKind).toBe(kind);
    expect(summary.hyper).toEqual(kind === 'hyper' ? { hyperDim: 2 } : undefined);
    const depthwise = await recur('convert', hf, '--out', join(dir, 'depthwise'), ...args);
    expect(summary.parameters.lora).toBeLessThan(json<typeof summary>(depthwise.stdout).parameters.lora);
    const inspect = json<{ loraParameters: number }>((await recur('inspect', model, '--json')).stdout);
    expect(inspect.loraParameters).toBe(summary.parameters.lora);
    expect((await recur('inspect', model)).stdout).toMatch(inspectLine);
    const evaluated = await recur('eval', '--model', model, '--data', corpus, '--max-bytes', '4096', '--json');
    expect(Number.isFinite(json<{ perplexity: number }>(evaluated.stdout).perplexity)).toBe(true);
    expect((await recur('generate', '--model', model, '--max-new-tokens', '8', '--temperature', '0')).code).toBe(0);
    const data = corpusSlice(join(dir, 'stories.txt'), corpus, 20_000);
    const run = join(dir, 'run');
    const train = await recur(
      ...['train', '--model', model, '--data', data, '--out', run, '--steps', '2', '--batch', '2', '--seq', '32'],
      ...['--trainable', 'lora', '--json'],
    );
    expect(train.code).toBe(0);
    const trained = json<{ recur: { loraKind: string; hyper?: { hyperDim: number } } }>(
      (await recur('inspect', join(run, 'model'), '--json')).stdout,
    );
    expect(trained.recur.loraKind).toBe(kind); // config.json: the kind as a string, hyper's width in recur.hyper
    expect(trained.recur.hyper).toEqual(kind === 'hyper' ? { hyperDim: 2 } : undefined);
    expect((await recur('export', join(run, 'model'), '--out', join(dir, 'plain'), '--json')).code).toBe(0);
    expect((await recur('export', join(run, 'model'), '--torch', '--out', join(dir, 'torch'))).code).toBe(0);
  });

  it('refuses a wrong kind, --hyper-dim without hyper, and --lora-kind on a loaded model in train, in one line each', async () => {
    const out = join(dir, 'refused');
    expectOneLineFailure(await recur('convert', hf, '--out', out, '--lora-kind', 'wide'), /--lora-kind must be one of/);
    expectOneLineFailure(
      await recur('convert', hf, '--out', out, '--lora-kind', 'scaled', '--hyper-dim', '2'),
      /--hyper-dim applies to --lora-kind hyper only/,
    );
    expectOneLineFailure(
      await recur('convert', hf, '--out', out, '--sharing', 'masa', '--atoms', '2', '--lora-kind', kind),
      /--lora-kind builds a looped block/,
    );
    expectOneLineFailure(
      await recur('train', '--model', model, '--data', corpus, '--out', out, '--lora-layers', '0'),
      /--lora-layers narrows depth-wise LoRA; this model's (hyper|scaled) LoRA shares/,
    );
    expectOneLineFailure(
      await recur('train', '--model', hf, '--data', corpus, '--out', out, '--lora-kind', kind),
      /gives a fresh recursive model \(--from-scratch --loops N\)/,
    );
    expectOneLineFailure(
      await recur('train', '--model', hf, '--data', corpus, '--out', out, '--lora-rank', '4', '--lora-kind', kind),
      /does not apply with --lora-rank R: a new adapter is depthwise or mos/,
    );
  });
});
