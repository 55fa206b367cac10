import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { scratchDir, stories260K, trainBudget } from './support/fixtures.js';
import { expectOneLineFailure, greedyGenerate, recur, recurJson, shared, trainJson } from './support/recur.js';

// `recur train --compose A,B --compose-method …` trains only how two frozen adapters combine and writes
// RUN/composition; generate/eval/export take it with --composition (ScaLearn folded, gated tfjs-only).

const { hf } = stories260K;
const dir = scratchDir('recur-compose-cli-');
const text = (name: string, file: string) => {
  const path = join(dir, `${name}.txt`);
  // WikiText has CRLF lines and no blank ones: each line becomes a document
  writeFileSync(path, readFileSync(`${shared}corpora/${file}`, 'utf8').slice(0, 8_000).replace(/\r\n/g, '\n\n'));
  return path;
};
const budget = trainBudget({ steps: 2, lr: 0.02 });
const adapters = [join(dir, 'a', 'adapter'), join(dir, 'b', 'adapter')];

const greedy = (...args: string[]) =>
  greedyGenerate<{ ids: number[]; path: string; composition?: { method: string; runs: string } }>(
    { tokens: 10 },
    ...args,
  );

beforeAll(async () => {
  const corpora = ['tinystories_val/tinystories_val.txt', 'tinyshakespeare/input.txt'];
  for (const [i, file] of corpora.entries()) {
    await trainJson(hf, join(dir, 'ab'[i]!), '--data', text(`d${i}`, file), '--lora-rank', '2', ...budget);
  }
}, 240_000);

describe('recur train --compose', () => {
  const target = () => text('wiki', 'wikitext-2-raw/wiki.test.raw');

  it('ScaLearn: trains only the scales, runs on the fast path, and merges into dense weights with the same tokens', async () => {
    const compose = ['--compose', adapters.join(','), '--compose-method', 'scalearn-uniform'];
    const { json: summary } = await trainJson<{ trainedParameters: number; compositionDir: string }>(
      hf,
      join(dir, 's'),
      ...['--data', target(), ...compose, ...budget],
    );
    expect(summary.trainedParameters).toBe(2 * 5); // one scalar per adapter and layer
    const composed = await greedy('--model', hf, '--composition', summary.compositionDir);
    expect(composed.path).toBe('fast');
    expect(composed.composition?.method).toBe('scalearn-uniform');
    const merged = join(dir, 'merged');
    await recurJson('export', hf, '--composition', summary.compositionDir, '--out', merged, '--json');
    expect((await greedy('--model', merged)).ids).toEqual(composed.ids);
  }, 240_000);

  it('gated: runs on tfjs (the --json report says so) and export is refused in one line', async () => {
    const compose = ['--compose', adapters.join(','), '--compose-method', 'gated'];
    const { json } = await trainJson<{ compositionDir: string }>(
      hf,
      join(dir, 'g'),
      '--data',
      target(),
      ...compose,
      ...budget,
    );
    const { compositionDir } = json;
    const composed = await greedy('--model', hf, '--composition', compositionDir);
    expect(composed.path).toBe('tfjs');
    expect(composed.composition?.runs).toMatch(/tfjs decoder only/);
    expectOneLineFailure(
      await recur('export', hf, '--composition', compositionDir, '--out', join(dir, 'gx')),
      /gated composition/,
    );
  }, 240_000);

  it('refuses wrong flag combinations and a composition for another base in one line', async () => {
    const out = join(dir, 'refused');
    expectOneLineFailure(
      await recur('train', '--model', hf, '--data', target(), '--out', out, '--compose', adapters[0]!),
      /at least two/,
    );
    expectOneLineFailure(
      await recur(
        'train',
        '--model',
        hf,
        '--data',
        target(),
        '--out',
        out,
        '--compose',
        adapters.join(','),
        '--compose-method',
        'fusion',
      ),
      /--compose-method must be one of/,
    );
    expectOneLineFailure(
      await recur(
        'train',
        '--model',
        hf,
        '--data',
        target(),
        '--out',
        out,
        '--compose',
        adapters.join(','),
        '--lora-rank',
        '2',
      ),
      /--lora-rank does not apply/,
    );
    // the merged export of the first test holds other weights: the composition's base fingerprint differs
    expectOneLineFailure(
      await recur('generate', '--model', join(dir, 'merged'), '--composition', join(dir, 's', 'composition')),
      /another base is refused/,
    );
  }, 240_000);
});
