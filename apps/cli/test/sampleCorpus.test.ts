import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scratchDir, stories260K } from './support/fixtures.js';
import { expectOneLineFailure, recur } from './support/recur.js';

const { hf } = stories260K;

interface Summary {
  path: string;
  tokens: number;
  documents: number;
  bytes: number;
  seconds: number;
  tokensPerSecond: number;
}

describe('recur sample-corpus', () => {
  const dir = scratchDir('recur-sample-');
  const args = ['--model', hf, '--tokens', '2000', '--batch', '16', '--max-doc-tokens', '96', '--seed', '7'];

  it('writes N teacher tokens as blank-line separated documents, the same bytes for the same seed, and train --data reads them', async () => {
    const first = join(dir, 'a.txt');
    const run = await recur('sample-corpus', ...args, '--out', first, '--json');
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1); // --json stays one object
    const summary = JSON.parse(lines[0]!) as Summary;
    const text = readFileSync(first, 'utf8');
    expect(summary).toMatchObject({ path: first, tokens: 2000, bytes: Buffer.byteLength(text), decoder: 'fast' });
    expect(summary.tokensPerSecond).toBeGreaterThan(0);
    const documents = text.trim().split(/\n[^\S\n]*\n/);
    expect(documents).toHaveLength(summary.documents);
    expect(summary.documents).toBeGreaterThanOrEqual(Math.ceil(2000 / 96));
    expect(documents.every((d) => d.trim().length > 0)).toBe(true);

    const again = join(dir, 'b.txt');
    expect((await recur('sample-corpus', ...args, '--out', again, '--json')).code).toBe(0);
    expect(readFileSync(again)).toEqual(readFileSync(first));
    const otherSeed = join(dir, 'c.txt');
    expect((await recur('sample-corpus', ...args, '--seed', '8', '--out', otherSeed, '--json')).code).toBe(0);
    expect(readFileSync(otherSeed)).not.toEqual(readFileSync(first));

    const train = await recur(
      'train',
      '--model',
      hf,
      '--data',
      first,
      '--out',
      join(dir, 'run'),
      '--steps',
      '1',
      '--batch',
      '2',
      '--seq',
      '32',
      '--val-fraction',
      '0.05',
      '--json',
    );
    expect(train.code, train.stderr).toBe(0);
    expect((JSON.parse(train.stdout) as { steps: number }).steps).toBe(1);
  });

  it('refuses a file it did not write without --force, and bad flags, with one clear line', async () => {
    const mine = join(dir, 'notes.txt');
    writeFileSync(mine, 'my notes\n');
    expectOneLineFailure(await recur('sample-corpus', ...args, '--out', mine), /notes\.txt.*--force/);
    expect(readFileSync(mine, 'utf8')).toBe('my notes\n');
    expect((await recur('sample-corpus', ...args, '--tokens', '50', '--out', mine, '--force', '--json')).code).toBe(0);
    expect(readFileSync(mine, 'utf8')).not.toBe('my notes\n');
    expectOneLineFailure(await recur('sample-corpus', '--model', hf, '--tokens', '10'), /--out FILE is required/);
    expectOneLineFailure(
      await recur('sample-corpus', '--model', hf, '--out', join(dir, 'x.txt')),
      /--tokens N is required/,
    );
    expectOneLineFailure(
      await recur('sample-corpus', ...args, '--tokens', '0', '--out', join(dir, 'x.txt')),
      /--tokens/,
    );
    expectOneLineFailure(
      await recur('sample-corpus', ...args, '--top-p', '1.5', '--out', join(dir, 'x.txt')),
      /--top-p/,
    );
    expectOneLineFailure(
      await recur('sample-corpus', ...args, '--max-doc-tokens', '100000', '--out', join(dir, 'x.txt')),
      /context of 512 tokens/,
    );
  });

  it('falls back to one document at a time, with a one-line warning, where the fast path cannot run (cpu backend)', async () => {
    const out = join(dir, 'cpu.txt');
    const run = await recur(
      'sample-corpus',
      '--model',
      hf,
      '--tokens',
      '120',
      '--max-doc-tokens',
      '40',
      '--backend',
      'cpu',
      '--out',
      out,
      '--json',
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr.trim()).toMatch(
      /^recur: warning: the batched fast path cannot run this model \(.*wasm.*\); documents were sampled one at a time/,
    );
    expect(JSON.parse(run.stdout)).toMatchObject({ tokens: 120, decoder: 'tfjs' });
    expect(
      readFileSync(out, 'utf8')
        .trim()
        .split(/\n[^\S\n]*\n/).length,
    ).toBeGreaterThanOrEqual(3);
  });

  it('--help names every flag', async () => {
    const run = await recur('sample-corpus', '--help');
    for (const flag of [
      '--model',
      '--out',
      '--tokens',
      '--temperature',
      '--top-p',
      '--batch',
      '--max-doc-tokens',
      '--seed',
      '--force',
      '--json',
    ])
      expect(run.stdout).toContain(flag);
  });
});
