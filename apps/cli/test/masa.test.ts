import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corpora, corpusSlice, scratchDir, stories260K } from './support/fixtures.js';
import { expectOneLineFailure, recur } from './support/recur.js';

// Issue 17 §1: recur convert --sharing masa, and every command that takes the folder it writes.
const { hf } = stories260K;
const corpus = corpora.tinystories;

describe('recur convert --sharing masa', () => {
  const dir = scratchDir('recur-masa-cli-');
  const masa = join(dir, 'masa2');
  const json = (text: string) => JSON.parse(text) as Record<string, unknown>;

  it('writes a model that stores fewer parameters, and inspect, eval, generate, train and export take it', async () => {
    const convert = await recur('convert', hf, '--out', masa, '--sharing', 'masa', '--atoms', '2', '--json');
    expect(convert.code).toBe(0);
    const summary = json(convert.stdout) as { parameters: { source: number; stored: number }; modules: string[] };
    expect(summary.parameters.source).toBe(260_032);
    expect(summary.parameters.stored).toBeLessThan(summary.parameters.source);
    expect(summary.modules).toHaveLength(4);
    const inspect = json((await recur('inspect', masa, '--json')).stdout) as {
      masa: { atoms: number; parameters: number };
    };
    expect(inspect.masa).toMatchObject({ atoms: 2, parameters: summary.parameters.stored });
    const text = await recur('inspect', masa);
    expect(text.stdout).toMatch(/MASA: .* 2 shared atoms each .* unique parameters 223,208/);
    const evaluated = await recur('eval', '--model', masa, '--data', corpus, '--max-bytes', '4096', '--json');
    expect(Number.isFinite((json(evaluated.stdout) as { perplexity: number }).perplexity)).toBe(true);
    const generated = await recur('generate', '--model', masa, '--max-new-tokens', '8', '--temperature', '0');
    expect(generated.code).toBe(0);
    const data = corpusSlice(join(dir, 'stories.txt'), corpus, 20_000);
    const run = join(dir, 'run');
    const train = await recur(
      ...['train', '--model', masa, '--data', data, '--out', run, '--steps', '2', '--batch', '2', '--seq', '32'],
      ...['--trainable', 'shared+lora', '--json'],
    );
    expect(train.code).toBe(0);
    const trained = json((await recur('inspect', join(run, 'model'), '--json')).stdout) as { masa: { atoms: number } };
    expect(trained.masa.atoms).toBe(2);
    const exported = await recur('export', join(run, 'model'), '--out', join(dir, 'plain'), '--json');
    expect(exported.code).toBe(0);
    expect((json((await recur('inspect', join(dir, 'plain'), '--json')).stdout) as { masa: unknown }).masa).toBeNull();
    // --torch keeps the atoms and coefficients (modeling_recur.py trains them)
    expect((await recur('export', masa, '--torch', '--out', join(dir, 'torch'))).code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'torch', 'config.json'), 'utf8')).masa.atoms).toBe(2);
  });

  it('refuses looping with masa, masa flags without it, too many atoms and unknown modules, in one line each', async () => {
    const out = join(dir, 'refused');
    expectOneLineFailure(
      await recur('convert', hf, '--out', out, '--sharing', 'masa', '--atoms', '2', '--loops', '2'),
      /--loops builds a looped block; --sharing masa .* not combined with looping/,
    );
    expectOneLineFailure(
      await recur('convert', hf, '--out', out, '--atoms', '2'),
      /--atoms applies to --sharing masa only/,
    );
    expectOneLineFailure(
      await recur('convert', hf, '--out', out, '--sharing', 'masa', '--atoms', '6'),
      /--atoms must be at most the model's 5 layers, got 6/,
    );
    expectOneLineFailure(
      await recur('convert', hf, '--out', out, '--sharing', 'masa', '--atoms', '2', '--masa-modules', 'q,gate'),
      /"gate" is not one of q, k, v, o/,
    );
    expectOneLineFailure(
      await recur('convert', hf, '--out', out, '--sharing', 'loops'),
      /--sharing must be recursive or masa/,
    );
    expectOneLineFailure(await recur('convert', masa, '--out', out, '--loops', '5'), /a MASA model is not looped/);
    expectOneLineFailure(
      await recur('convert', masa, '--out', out, '--sharing', 'masa', '--atoms', '1'),
      /already MASA-shared/,
    );
  });
});
