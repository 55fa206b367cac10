import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineFailure, recur, shared } from './support/recur.js';

const hf = `${shared}models/stories260K/hf`;

// A converted stories260K (MIDDLE-CYCLE × 2, rank-4 LoRA) for the per-token depth flags.
let model: string;
let data: string;
beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-depth-'));
  model = join(dir, 'mc2');
  data = join(dir, 'text.txt');
  writeFileSync(
    data,
    'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.\n'.repeat(
      3,
    ),
  );
  const run = await recur(
    'convert',
    hf,
    '--out',
    model,
    '--loops',
    '2',
    '--strategy',
    'middle-cycle',
    '--init',
    'lower',
    '--lora-rank-attn',
    '4',
    '--lora-rank-mlp',
    '4',
    '--json',
  );
  expect(run.code, run.stderr).toBe(0);
}, 120_000);

describe('recur per-token depth flags', () => {
  it('generate --exit --json reports one depth per generated token', async () => {
    const run = await recur(
      'generate',
      '--model',
      model,
      '--prompt',
      'Once upon a time',
      '--max-new-tokens',
      '12',
      '--temperature',
      '0',
      '--exit',
      'entropy:2',
      '--json',
    );
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { ids: number[]; depths: number[] };
    expect(out.depths).toHaveLength(out.ids.length);
    expect(out.depths[0]).toBe(2); // chosen by the prompt's last position, which runs every loop
    for (const d of out.depths) expect([1, 2]).toContain(d);
  }, 60_000);

  it('eval --per-loop --exit reports perplexity at each loop and the average depth', async () => {
    const run = await recur(
      'eval',
      '--model',
      model,
      '--data',
      data,
      '--window',
      '64',
      '--per-loop',
      '--exit',
      'fixed:1',
      '--json',
    );
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as {
      perLoop: { depth: number; perplexity: number }[];
      policy: { perplexity: number; averageDepth: number };
    };
    expect(out.perLoop.map((p) => p.depth)).toEqual([1, 2]);
    expect(out.policy.averageDepth).toBe(1);
    expect(out.policy.perplexity).toBeGreaterThan(1);
    const text = await recur('eval', '--model', model, '--data', data, '--window', '64', '--exit', 'maxprob:0.5');
    expect(text.stdout).toMatch(/average depth \d\.\d{3}/);
  }, 60_000);

  it('train --exit-loss trains every exit (with self-distillation) and the result evaluates per loop', async () => {
    const out = join(model, '..', 'exit-run');
    const corpus = `${shared}corpora/tinystories_val/tinystories_val.txt`;
    const run = await recur(
      'train',
      '--model',
      model,
      '--data',
      corpus,
      '--out',
      out,
      '--steps',
      '2',
      '--batch',
      '1',
      '--seq',
      '32',
      '--eval-every',
      '0',
      '--eval-windows',
      '2',
      '--exit-loss',
      '--exit-weights',
      '1,2',
      '--self-distill',
      '2',
      '--json',
    );
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { steps: number };
    expect(summary.steps).toBe(2);
    const scored = await recur(
      'eval',
      '--model',
      join(out, 'model'),
      '--data',
      data,
      '--window',
      '64',
      '--per-loop',
      '--json',
    );
    expect(scored.code, scored.stderr).toBe(0);
    expect((JSON.parse(scored.stdout) as { perLoop: unknown[] }).perLoop).toHaveLength(2);
    for (const bad of [
      ['--exit-weights', '1,1'],
      ['--exit-loss', '--exit-weights', '0,0'],
      ['--exit-loss', '--self-distill', 'hot'],
    ]) {
      expectOneLineFailure(
        await recur('train', '--model', model, '--data', corpus, '--out', join(out, 'bad'), '--steps', '1', ...bad),
        /exit|self-distill/,
      );
    }
  }, 120_000);

  it('train --self-distill dual runs; bad kinds and temperatures fail in one line', async () => {
    const out = join(model, '..', 'dual-run');
    // The first 20 kB of TinyStories: a small held-out split keeps this run short.
    const corpus = join(model, '..', 'stories-20k.txt');
    writeFileSync(
      corpus,
      readFileSync(`${shared}corpora/tinystories_val/tinystories_val.txt`, 'utf8').slice(0, 20_000),
    );
    const dual = await recur(
      'train',
      ...['--model', model, '--data', corpus, '--out', out, '--steps', '1', '--batch', '1', '--seq', '32'],
      ...['--eval-every', '0', '--eval-windows', '1', '--exit-loss', '--self-distill', 'dual', '--json'],
      ...['--self-distill-temperature', '2'],
    );
    expect(dual.code, dual.stderr).toBe(0);
    for (const bad of [
      ['--exit-loss', '--self-distill', 'features', '--self-distill-temperature', '0'],
      ['--exit-loss', '--self-distill', '2', '--self-distill-temperature', '2'],
      ['--exit-loss', '--self-distill-temperature', '2'],
    ]) {
      expectOneLineFailure(
        await recur('train', '--model', model, '--data', corpus, '--out', join(out, 'bad'), '--steps', '1', ...bad),
        /self-distill/,
      );
    }
  }, 120_000);

  it('refuses bad rules and modes in one line', async () => {
    for (const args of [
      ['--exit', 'sometimes'],
      ['--exit', 'maxprob:0.5', '--kv', 'nowhere'],
      ['--kv', 'copy'],
      ['--exit', 'router'],
    ]) {
      expectOneLineFailure(
        await recur('generate', '--model', model, '--prompt', 'Hi', '--max-new-tokens', '2', ...args),
        /exit|kv|router/,
      );
    }
  }, 60_000);
});
