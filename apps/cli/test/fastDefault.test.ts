import { mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOneLineFailure, recur, recurWithEnv, shared } from './support/recur.js';

// Issue 16 §1: generate, eval and bench run the fused wasm path on all cores by default; tfjs on request.
const stories = `${shared}models/stories260K/`;
const gguf = `${stories}stories260K.gguf`;
const hf = `${stories}hf`;
const data = `${shared}corpora/tinystories_val/tinystories_val.txt`;
const greedy = JSON.parse(readFileSync(`${stories}reference/greedy_bos_200.json`, 'utf8')) as { ids: number[] };
const reference = (
  JSON.parse(readFileSync(`${stories}reference/perplexity.json`, 'utf8')) as {
    results: { file: string; mean_nll_nats: number }[];
  }
).results[0]!;

interface GenerateJson {
  promptIds: number[];
  ids: number[];
  path: string;
  threads: number;
}
interface EvalJson {
  tokens: number;
  meanNll: number;
  path: string;
}

const greedyRun = async (...flags: string[]): Promise<GenerateJson> => {
  const run = await recur(
    'generate',
    '--model',
    gguf,
    '--max-new-tokens',
    '200',
    '--temperature',
    '0',
    '--json',
    ...flags,
  );
  expect(run.stderr).toBe('');
  return JSON.parse(run.stdout) as GenerateJson;
};

describe('recur generate: fast by default', () => {
  it('with no path flags runs the fused kernels and reproduces the golden greedy tokens', async () => {
    const out = await greedyRun();
    expect(out.path).toBe('fast');
    expect([...out.promptIds, ...out.ids]).toEqual(greedy.ids);
  });

  it('--backend tfjs runs the tfjs decoder, with the same golden tokens', async () => {
    const out = await greedyRun('--backend', 'tfjs');
    expect(out.path).toBe('tfjs');
    expect([...out.promptIds, ...out.ids]).toEqual(greedy.ids);
  });

  it('--fast is an accepted no-op; --backend cpu runs tfjs without a note', async () => {
    expect((await greedyRun('--fast')).path).toBe('fast');
    expect((await greedyRun('--backend', 'cpu')).path).toBe('tfjs');
  });

  it('--fast with --backend tfjs is refused with one line', async () => {
    expectOneLineFailure(
      await recur('generate', '--model', gguf, '--fast', '--backend', 'tfjs'),
      /--fast.*--backend tfjs/,
    );
  });

  it('uses all cores unless RECUR_THREADS or --threads says otherwise', async () => {
    const env = { ...process.env };
    delete env.RECUR_THREADS;
    const run = await recurWithEnv(
      env,
      'generate',
      '--model',
      gguf,
      '--max-new-tokens',
      '4',
      '--temperature',
      '0',
      '--json',
    );
    expect((JSON.parse(run.stdout) as GenerateJson).threads).toBe(Math.min(availableParallelism(), 64));
    const pinned = await recurWithEnv(
      { ...env, RECUR_THREADS: '1' },
      'generate',
      '--model',
      gguf,
      '--max-new-tokens',
      '4',
      '--json',
    );
    expect((JSON.parse(pinned.stdout) as GenerateJson).threads).toBe(1);
  });
});

describe('recur eval: fast by default', () => {
  it('scores on the fused kernels, within 1e-4 NLL of the reference and of --backend tfjs', async () => {
    const args = ['eval', '--model', hf, '--data', data, '--max-bytes', '16384', '--window', '256', '--json'];
    const fast = JSON.parse((await recur(...args)).stdout) as EvalJson;
    const tfjs = JSON.parse((await recur(...args, '--backend', 'tfjs')).stdout) as EvalJson;
    expect([fast.path, tfjs.path]).toEqual(['fast', 'tfjs']);
    expect(fast.tokens).toBe(7890);
    expect(Math.abs(fast.meanNll - reference.mean_nll_nats)).toBeLessThan(1e-4);
    expect(Math.abs(fast.meanNll - tfjs.meanNll)).toBeLessThan(1e-4);
  });
});

describe('recur bench: fast by default', () => {
  it.each([
    [[], 'fast'],
    [['--backend', 'tfjs'], 'tfjs'],
  ])('%j times the %s path', async (flags, path) => {
    const run = await recur('bench', '--model', gguf, '--prefill', '8', '--decode', '4', '--json', ...flags);
    expect((JSON.parse(run.stdout) as { path: string }).path).toBe(path);
  });
});

describe('recur serve: always the fused engine', () => {
  it('refuses --backend tfjs with one line (it has no tfjs path)', async () => {
    expectOneLineFailure(
      await recur('serve', '--model', gguf, '--port', '0', '--backend', 'tfjs'),
      /--backend must be one of wasm, cpu, webgpu, got "tfjs"/,
    );
  });
});

describe('recur generate --exit: early-exit policies on the fused kernels', () => {
  it('runs fast by default with the same ids and depths as --backend tfjs', async () => {
    const converted = join(mkdtempSync(join(tmpdir(), 'recur-fast16-')), 'rrt');
    expect(
      (
        await recur(
          'convert',
          hf,
          '--out',
          converted,
          '--loops',
          '2',
          '--strategy',
          'middle-cycle',
          '--lora-rank-attn',
          '4',
          '--lora-rank-mlp',
          '4',
          '--json',
        )
      ).code,
    ).toBe(0);
    const args = [
      'generate',
      '--model',
      converted,
      '--prompt',
      'Once upon a time',
      '--max-new-tokens',
      '20',
      '--temperature',
      '0',
      '--exit',
      'maxprob:0.5',
      '--json',
    ];
    const fast = JSON.parse((await recur(...args)).stdout) as GenerateJson & { depths: number[] };
    const tfjs = JSON.parse((await recur(...args, '--backend', 'tfjs')).stdout) as GenerateJson & { depths: number[] };
    expect([fast.path, tfjs.path]).toEqual(['fast', 'tfjs']);
    expect(fast.ids).toEqual(tfjs.ids);
    expect(fast.depths).toEqual(tfjs.depths);
    // once refused, now the default
    const withFast = JSON.parse((await recur(...args, '--fast')).stdout) as GenerateJson & { depths: number[] };
    expect([withFast.path, withFast.ids]).toEqual(['fast', fast.ids]);
  });
});
