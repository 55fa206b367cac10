import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOneLineFailure, recur, shared } from './support/recur.js';

const hf = `${shared}models/stories260K/hf`;
const stories = `${shared}corpora/tinystories_val/tinystories_val.txt`;
/** CLI runs that load and convert a model: minutes on a loaded 2-core machine. */
const SLOW = 300_000;

interface Summary {
  echoAttention: { step: number; source: number }[];
  parameters: { source: number; echo: number };
}
interface Scored {
  perplexity: number;
}

describe('recur convert --echo-attention (EchoAtt)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-echo-'));

  it('--help names the flags', async () => {
    const run = await recur('convert', '--help');
    expect(run.code).toBe(0);
    for (const flag of ['--echo-attention', '--echo-threshold', '--data', '--echo-windows'])
      expect(run.stdout).toContain(flag);
  });

  it(
    'a LIST plan drops the reusing layers’ q/k, is saved in config.json and the model evaluates (tfjs runs it)',
    async () => {
      const out = join(dir, 'echo');
      const run = await recur('convert', hf, '--out', out, '--echo-attention', '3<-2,4<-2', '--json');
      expect(run.code, run.stderr).toBe(0);
      const summary = JSON.parse(run.stdout) as Summary;
      expect(summary.echoAttention).toEqual([
        { step: 3, source: 2 },
        { step: 4, source: 2 },
      ]);
      // two layers × (q 64×64 + k 32×64)
      expect(summary.parameters.source - summary.parameters.echo).toBe(2 * (64 * 64 + 32 * 64));
      const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { echo: { reuse: unknown[] } };
      expect(config.echo.reuse).toEqual(summary.echoAttention);
      const scored = await recur(
        'eval',
        '--model',
        out,
        '--data',
        stories,
        '--max-bytes',
        '2000',
        '--window',
        '64',
        '--json',
      );
      expect(scored.code, scored.stderr).toBe(0);
      expect((JSON.parse(scored.stdout) as Scored).perplexity).toBeGreaterThan(1);
    },
    SLOW,
  );

  it(
    'bench --echo-attention times the plan on the fast path; a bad plan fails in one line',
    async () => {
      const args = ['--prefill', '16', '--decode', '4', '--threads', '1'];
      const run = await recur('bench', '--model', hf, ...args, '--echo-attention', '3<-2,4<-2', '--json');
      expect(run.code, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout) as { path: string; model: string; parameters: number };
      expect(report.path).toBe('fast');
      expect(report.model).toContain('EchoAtt 3<-2,4<-2');
      expect(report.parameters).toBe(260032 - 2 * (64 * 64 + 32 * 64));
      expectOneLineFailure(
        await recur('bench', '--model', hf, ...args, '--echo-attention', '9<-1'),
        /--echo-attention/,
      );
    },
    SLOW,
  );

  it(
    'auto measures the maps on --data and prints the plan; bad plans and flags fail in one line',
    async () => {
      const auto = await recur(
        'convert',
        ...[hf, '--out', join(dir, 'auto'), '--echo-attention', 'auto', '--echo-threshold', '0.5'],
        ...['--data', stories, '--window', '48', '--echo-windows', '2'],
      );
      expect(auto.code, auto.stderr).toBe(0);
      expect(auto.stdout).toMatch(/EchoAtt plan \(step<-source\): /);
      for (const [args, pattern] of [
        [['--echo-attention', '3<2'], /STEP<-SOURCE/],
        [['--echo-attention', '2<-3'], /earlier step/],
        [['--echo-attention', '9<-1'], /0\.\.4/],
        [['--echo-attention', 'auto'], /--data/],
        [['--echo-attention', '3<-2', '--loops', '2'], /--loops/],
        [['--data', stories], /--echo-attention only/],
      ] as const) {
        expectOneLineFailure(await recur('convert', hf, '--out', join(dir, 'bad'), ...args), pattern);
      }
    },
    SLOW,
  );
});
