import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TrainRunError } from '../src/node/training/errors.js';
import { resumeLog, writeChart } from '../src/node/training/log.js';
import { settingsChanges } from '../src/node/training/settings.js';

const line = (step: number) =>
  `${JSON.stringify({ kind: 'step', step, loss: 1, lr: 1, gradNorm: 1, tokens: 1, tokensPerSecond: 1, seconds: 1 })}\n`;

describe('train.jsonl on resume', () => {
  it('drops a torn last line and the records past the resumed step, and says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-log-'));
    writeFileSync(join(dir, 'train.jsonl'), `${line(1)}${line(2)}${line(3)}{"kind":"st`);
    const warnings = await resumeLog(dir, 2);
    expect(warnings.join('\n')).toMatch(/partial last line/);
    expect(warnings.join('\n')).toMatch(/dropped 1 record\(s\) after step 2/);
    expect(readFileSync(join(dir, 'train.jsonl'), 'utf8')).toBe(`${line(1)}${line(2)}`);
    expect(await resumeLog(dir, 2)).toEqual([]); // nothing left to repair
  });

  it('a damaged line that is not the last is an error naming the file and line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-log-'));
    writeFileSync(join(dir, 'train.jsonl'), `${line(1)}garbage\n${line(2)}`);
    await expect(resumeLog(dir, 2)).rejects.toThrow(TrainRunError);
    await expect(writeChart(dir, 't')).rejects.toThrow(/train\.jsonl:2: not a JSON record/);
  });
});

describe('settingsChanges', () => {
  it('names nested and null-to-object changes, ignores steps and the model path, and compares data paths resolved', () => {
    const saved = {
      model: 'a',
      steps: 4,
      textFile: 'data.txt',
      schedule: { kind: 'cosine', peakLr: 0.003 },
      router: null,
      clipNorm: 1,
    };
    const now = {
      model: 'b',
      steps: 8,
      textFile: join(process.cwd(), 'data.txt'),
      schedule: { kind: 'cosine', peakLr: 0.01 },
      router: { kind: 'token' },
      clipNorm: 1,
      exit: null,
    };
    expect(settingsChanges(saved, now)).toEqual(['schedule.peakLr 0.003 → 0.01', 'router null → {"kind":"token"}']);
  });
});
