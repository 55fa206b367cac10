import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOneLineFailure, recur, shared } from './support/recur.js';

const hf = `${shared}models/stories260K/hf`;
const stories = `${shared}corpora/tinystories_val/tinystories_val.txt`;
const verse = `${shared}corpora/tinyshakespeare/input.txt`;
const small = [
  '--steps',
  '2',
  '--batch',
  '2',
  '--seq',
  '16',
  '--eval-every',
  '0',
  '--save-every',
  '0',
  '--threads',
  '1',
];

describe('recur train --intact-from (InTAct)', () => {
  it('records intervals from a file, trains under the penalty, records its own; bad flags fail in one line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-intact-cli-'));
    // small slices (in the temp folder) keep tokenizing short
    const slice = (file: string, name: string) => {
      const path = join(dir, name);
      writeFileSync(path, readFileSync(file, 'utf8').slice(0, 20_000));
      return path;
    };
    const [storiesText, verseText] = [slice(stories, 'stories.txt'), slice(verse, 'verse.txt')];
    const out = join(dir, 'sh');
    const flags = ['--intact-from', storiesText, '--intact-windows', '2', '--intact-weight', '10'];
    const run = await recur(
      'train',
      '--model',
      hf,
      '--data',
      verseText,
      '--out',
      out,
      ...small,
      ...flags,
      '--record-intervals',
      '2',
      '--json',
    );
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.intact).toEqual({ weight: 10, constrainedWeights: 35 });
    expect(result.intervalsDir).toBe(join(out, 'intact'));
    const meta = JSON.parse(readFileSync(join(out, 'intact', 'intervals.json'), 'utf8'));
    expect(meta).toMatchObject({ rule: 'min-max', windows: 2, weights: 35 });
    expectOneLineFailure(
      await recur('train', '--model', hf, '--data', verseText, '--out', join(dir, 'x'), ...small, '--intact-from', dir),
      /--intact-from .*no recorded intervals.*--record-intervals/,
    );
    expectOneLineFailure(
      await recur('train', '--model', hf, '--data', verseText, '--out', join(dir, 'y'), '--intact-weight', '3'),
      /--intact-weight applies only with --intact-from/,
    );
  }, 300_000);
});

describe('recur convert --ends per-domain (Uni-X)', () => {
  it('converts with per-domain ends; --domain picks one; export and bad names refuse in one line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-ends-cli-'));
    const out = join(dir, 'ux');
    const run = await recur(
      'convert',
      hf,
      '--out',
      out,
      '--strategy',
      'middle-cycle',
      '--loops',
      '3',
      '--ends',
      'per-domain:stories,verse',
      '--json',
    );
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).ends).toEqual(['stories', 'verse']);
    const recurSection = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).recur;
    expect(recurSection.ends).toEqual({ domains: ['stories', 'verse'], layers: [0, 2], active: 'stories' });
    const generate = (domain: string) =>
      recur(
        'generate',
        '--model',
        out,
        '--domain',
        domain,
        '--prompt',
        'Once',
        '--max-new-tokens',
        '6',
        '--temperature',
        '0',
        '--json',
      );
    const [a, b] = [await generate('stories'), await generate('verse')];
    expect(JSON.parse(a.stdout).ids).toEqual(JSON.parse(b.stdout).ids); // identical copies
    expectOneLineFailure(await generate('prose'), /--domain prose: the model's domains are stories, verse/);
    expectOneLineFailure(await recur('export', out, '--out', join(dir, 'e')), /per-domain ends .*--domain NAME/);
    expectOneLineFailure(
      await recur('convert', hf, '--out', join(dir, 'c'), '--strategy', 'cycle', '--ends', 'per-domain:a,b'),
      /--ends per-domain needs --strategy middle-cycle/,
    );
    expectOneLineFailure(
      await recur('convert', hf, '--out', join(dir, 'd'), '--strategy', 'middle-cycle', '--ends', 'per-domain:a'),
      /at least two distinct domain names/,
    );
    const conflict = await recur(
      'gradient-conflict',
      '--model',
      out,
      '--data',
      stories,
      '--target-data',
      verse,
      '--windows',
      '1',
      '--window',
      '32',
      '--json',
    );
    expect(conflict.code, conflict.stderr).toBe(0);
    const layers = JSON.parse(conflict.stdout).layers as { layer: number; shared: number; separate: number | null }[];
    expect(layers.map((l) => l.separate === null)).toEqual([true, false, true]);
  }, 300_000);
});
