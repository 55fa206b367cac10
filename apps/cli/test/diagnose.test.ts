import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineFailure, recur, shared } from './support/recur.js';

const hf = `${shared}models/stories260K/hf`;
const stories = `${shared}corpora/tinystories_val/tinystories_val.txt`;
const shakespeare = `${shared}corpora/tinyshakespeare/input.txt`;
const small = ['--max-bytes', '700', '--window', '48'];
/** CLI runs that load, diagnose or train a model several times: minutes on a loaded 2-core machine. */
const SLOW = 300_000;

interface Entry {
  layer: number;
  steps: number[];
  attentionEntropy: number;
  activationGradNorm: number;
  paramGradNorm: number;
  deltaCka?: number;
  loop?: number;
}
interface Report {
  layers: Entry[];
  steps?: Entry[];
  inflectionLayers: number[];
  inflectionSteps?: number[];
  inflectionRanking: number[];
  rankingRule: string;
  rule: string;
  attentionSimilarity: number[][];
  similarityMetric: string;
  echoPlan: { threshold: number; reuse: { step: number; source: number }[] };
  source: { windows: number; tokens: number; loss: number };
}

describe('recur diagnose', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-diagnose-'));

  it('--help names every flag', async () => {
    const run = await recur('diagnose', '--help');
    expect(run.code).toBe(0);
    for (const flag of [
      '--model',
      '--data',
      '--target-data',
      '--max-bytes',
      '--window',
      '--min-drop',
      '--json',
      '--out',
      '--force',
    ])
      expect(run.stdout).toContain(flag);
  });

  it(
    '--json: one entry per layer of a plain model, the rule and the inflection layers',
    async () => {
      const run = await recur('diagnose', '--model', hf, '--data', stories, ...small, '--json');
      expect(run.code, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout) as Report;
      expect(report.layers.map((l) => l.layer)).toEqual([0, 1, 2, 3, 4]);
      for (const l of report.layers) {
        expect(l.steps).toEqual([l.layer]);
        for (const v of [l.attentionEntropy, l.activationGradNorm, l.paramGradNorm]) expect(v).toBeGreaterThan(0);
        expect(l.deltaCka).toBeUndefined();
      }
      expect(report.steps).toBeUndefined();
      expect(Array.isArray(report.inflectionLayers)).toBe(true);
      expect(report.rule).toMatch(/median/);
      // the ranking auto:K reads: every step once, the strict rule's steps first
      expect([...report.inflectionRanking].sort()).toEqual([0, 1, 2, 3, 4]);
      expect(report.inflectionRanking.slice(0, report.inflectionLayers.length).sort()).toEqual(report.inflectionLayers);
      expect(report.rankingRule).toMatch(/median first/);
      expect(report.source.tokens).toBeGreaterThan(0);
      // EchoAtt: a 5 × 5 step-pair similarity in [0, 1], symmetric, 1 on the diagonal, and the auto plan.
      expect(report.attentionSimilarity).toHaveLength(5);
      report.attentionSimilarity.forEach((row, a) => {
        expect(row[a]).toBe(1);
        row.forEach((v, b) => {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
          expect(v).toBe(report.attentionSimilarity[b]![a]);
        });
      });
      expect(report.similarityMetric).toMatch(/Jensen|JS/);
      expect(report.echoPlan.threshold).toBe(0.9);
      expect(Array.isArray(report.echoPlan.reuse)).toBe(true);
    },
    SLOW,
  );

  it(
    'a converted model: per-step entries with ΔCKA, an SVG in --out, and --out refusals',
    async () => {
      const model = join(dir, 'mc');
      const convert = await recur(
        'convert',
        hf,
        '--out',
        model,
        '--loops',
        '3',
        '--strategy',
        'middle-cycle',
        '--init',
        'average',
        '--lora-rank-attn',
        '2',
        '--lora-rank-mlp',
        '2',
        '--json',
      );
      expect(convert.code, convert.stderr).toBe(0);
      const out = join(dir, 'report');
      const args = [
        'diagnose',
        '--model',
        model,
        '--data',
        stories,
        '--target-data',
        shakespeare,
        ...small,
        '--out',
        out,
      ];
      const run = await recur(...args, '--json');
      expect(run.code, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout) as Report;
      expect(report.steps!.map((s) => [s.layer, s.loop])).toEqual([
        [0, 0],
        [1, 0],
        [1, 1],
        [1, 2],
        [2, 0],
      ]);
      expect(report.layers.map((l) => l.steps)).toEqual([[0], [1, 2, 3], [4]]);
      for (const s of report.steps!) expect(s.deltaCka).toBeGreaterThanOrEqual(0);
      expect(Array.isArray(report.inflectionSteps)).toBe(true);
      const svg = readFileSync(join(out, 'diagnose.svg'), 'utf8');
      expect(svg).toMatch(/^<svg /);
      expect(svg).toContain('ΔCKA');
      expect((JSON.parse(readFileSync(join(out, 'diagnose.json'), 'utf8')) as Report).rule).toBe(report.rule);
      expect((await recur(...args)).code).toBe(0); // its own folder: replaced without --force

      const foreign = join(dir, 'foreign');
      mkdirSync(foreign);
      writeFileSync(join(foreign, 'notes.txt'), 'keep me');
      const refused = await recur('diagnose', '--model', hf, '--data', stories, ...small, '--out', foreign);
      expectOneLineFailure(refused, /not empty .*--force/);
      expect(readFileSync(join(foreign, 'notes.txt'), 'utf8')).toBe('keep me');
      expect(
        (await recur('diagnose', '--model', hf, '--data', stories, ...small, '--out', foreign, '--force')).code,
      ).toBe(0);
    },
    SLOW,
  );

  it(
    'fails in one line for a missing file, empty data and a missing --data',
    async () => {
      const missing = join(dir, 'nope.txt');
      expectOneLineFailure(await recur('diagnose', '--model', hf, '--data', missing), /nope\.txt/);
      const empty = join(dir, 'empty.txt');
      writeFileSync(empty, '');
      expectOneLineFailure(await recur('diagnose', '--model', hf, '--data', empty), /empty/);
      expectOneLineFailure(await recur('diagnose', '--model', hf, '--data', stories, '--target-data', empty), /empty/);
      expectOneLineFailure(await recur('diagnose', '--model', hf), /--data/);
      expectOneLineFailure(await recur('diagnose', '--model', hf, '--data', stories, '--min-drop', '1'), /--min-drop/);
    },
    SLOW,
  );
});

describe('recur train --lora-layers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-lora-layers-'));
  const model = join(dir, 'mc');
  const train = ['--data', stories, '--batch', '1', '--seq', '32', '--steps', '1', '--val-fraction', '0.005', '--json'];
  const run = (out: string, ...extra: string[]) =>
    recur('train', '--model', model, ...train, '--trainable', 'lora', '--out', join(dir, out), ...extra);

  beforeAll(async () => {
    const convert = await recur(
      'convert',
      hf,
      '--out',
      model,
      '--loops',
      '3',
      '--strategy',
      'middle-cycle',
      '--init',
      'average',
      '--lora-rank-attn',
      '2',
      '--lora-rank-mlp',
      '2',
      '--json',
    );
    expect(convert.code, convert.stderr).toBe(0);
  }, SLOW);

  it(
    'trains LoRA only on the listed layers',
    async () => {
      const trained = async (out: string, ...extra: string[]) => {
        const result = await run(out, ...extra);
        expect(result.code, result.stderr).toBe(0);
        return (JSON.parse(result.stdout) as { trainedParameters: number }).trainedParameters;
      };
      // middle-cycle: layer 1 is the shared block and carries every LoRA; layers 0 and 2 (prologue, epilogue) carry none
      expect(await trained('middle', '--lora-layers', '1')).toBe(await trained('all'));
      const ends = await run('ends', '--lora-layers', '0,2');
      expect(ends.code).toBe(1);
      expect(ends.stderr).toMatch(/^recur: LoRA trains on layers 0, 2\nrecur: .*selects no parameter/);
    },
    SLOW,
  );

  it(
    'refuses a layer the model does not store and a malformed list',
    async () => {
      expectOneLineFailure(await run('bad', '--lora-layers', '7'), /layer 7 does not exist/);
      expectOneLineFailure(await run('bad2', '--lora-layers', 'top'), /--lora-layers must be auto, auto:K or/);
      expectOneLineFailure(await run('bad3', '--lora-layers', 'auto:0'), /auto:K needs a whole number K ≥ 1/);
      expectOneLineFailure(await run('bad4', '--lora-layers', 'auto:99'), /auto:99: the model runs \d+ steps/);
    },
    SLOW,
  );

  it(
    'auto: trains on the diagnosed inflection layers, or says in one line that the rule flags none',
    async () => {
      const auto = await run('auto', '--lora-layers', 'auto');
      if (auto.code === 0) expect(auto.stderr).toMatch(/LoRA trains on layers \d/);
      else expectOneLineFailure(auto, /no inflection layer under the rule/);
      // the ranked fallback always picks: one step of the shared layer (middle-cycle: only layer 1 carries LoRA)
      const ranked = await run('ranked', '--lora-layers', 'auto:1');
      expect(ranked.stderr).toMatch(/LoRA trains on layers \d/);
    },
    SLOW,
  );
});
