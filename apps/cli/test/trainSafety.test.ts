import { execFile } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, expectOneLineFailure, recur, shared, type Run } from './support/recur.js';

const hf = `${shared}models/stories260K/hf`;
const dir = mkdtempSync(join(tmpdir(), 'recur-train-safety-'));
// A 60 kB slice of TinyStories keeps tokenizing out of the way.
const data = join(dir, 'data.txt');
writeFileSync(data, readFileSync(`${shared}corpora/tinystories_val/tinystories_val.txt`, 'utf8').slice(0, 60_000));
const base = [
  '--model',
  hf,
  '--data',
  data,
  '--batch',
  '2',
  '--seq',
  '32',
  '--val-fraction',
  '0.05',
  '--eval-every',
  '0',
  '--eval-windows',
  '2',
  '--lr',
  '3e-3',
  '--json',
];

type Record = { kind: string; step: number; loss: number | null };
const records = (run: string): Record[] =>
  readFileSync(join(run, 'train.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record);
const stepsOf = (run: string) =>
  records(run)
    .filter((r) => r.kind === 'step')
    .map((r) => r.step);
const warnings = (run: Run) => run.stderr.split('\n').filter((l) => l.startsWith('recur: warning:'));

/** `recur` run from another working directory. */
function recurIn(cwd: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd, timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('recur train --out: a fresh run never overwrites or appends to what it did not start', () => {
  it('refuses a non-empty folder that is not a run; --force starts the run in it from nothing', async () => {
    const out = join(dir, 'notes');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'keep me');
    expectOneLineFailure(await recur('train', ...base, '--out', out, '--steps', '1'), /not a training run.*--force/);
    expect(readdirSync(out)).toEqual(['notes.txt']);
    expect((await recur('train', ...base, '--out', out, '--steps', '1', '--force')).code).toBe(0);
    expect(readdirSync(out)).not.toContain('notes.txt');
    expect(existsSync(join(out, 'model', 'model.safetensors'))).toBe(true);
  });

  it('a fresh run starts a new train.jsonl; a finished run is refused without --resume, restarted with --force', async () => {
    const out = join(dir, 'fresh');
    mkdirSync(out);
    // a run that died before its first checkpoint
    writeFileSync(join(out, 'train.jsonl'), `${JSON.stringify({ kind: 'step', step: 1, loss: 9 })}\n`);
    expect((await recur('train', ...base, '--out', out, '--steps', '2')).code).toBe(0);
    expect(stepsOf(out)).toEqual([1, 2]);
    expectOneLineFailure(
      await recur('train', ...base, '--out', out, '--steps', '2'),
      /already holds a training run.*--resume.*--force/,
    );
    expect((await recur('train', ...base, '--out', out, '--steps', '3', '--force')).code).toBe(0);
    expect(stepsOf(out)).toEqual([1, 2, 3]);
  });

  it('--force restarts a from-scratch run and keeps the tokenizer it trains into the run folder', async () => {
    const config = join(dir, 'tiny.json');
    writeFileSync(
      config,
      JSON.stringify({
        model_type: 'llama',
        hidden_size: 32,
        intermediate_size: 64,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        vocab_size: 300,
        max_position_embeddings: 128,
        tie_word_embeddings: true,
      }),
    );
    const scratch = [
      '--from-scratch',
      '--config',
      config,
      '--vocab-size',
      '300',
      ...base.slice(2),
      '--out',
      join(dir, 'scratch'),
      '--steps',
      '1',
    ];
    expect((await recur('train', ...scratch)).code).toBe(0);
    expectOneLineFailure(await recur('train', ...scratch), /already holds a training run/);
    expect((await recur('train', ...scratch, '--force')).code).toBe(0);
    expect(readdirSync(join(dir, 'scratch', 'tokenizer'))).toContain('tokenizer.json');
    expectOneLineFailure(await recur('train', ...scratch, '--force', '--resume'), /give one of them/);
  });

  it('--resume into an empty or missing folder refuses and leaves nothing behind', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    expectOneLineFailure(
      await recur('train', ...base, '--out', empty, '--steps', '2', '--resume'),
      /no checkpoint to resume from/,
    );
    expect(readdirSync(empty)).toEqual([]);
    expectOneLineFailure(
      await recur('train', ...base, '--out', join(dir, 'missing'), '--steps', '2', '--resume'),
      /no checkpoint to resume from/,
    );
    expect(existsSync(join(dir, 'missing'))).toBe(false);
  });

  it('refuses an --out that is the model or the data it reads', async () => {
    const model = join(dir, 'model-copy');
    cpSync(hf, model, { recursive: true });
    expectOneLineFailure(
      await recur('train', ...base, '--model', model, '--out', model, '--steps', '1', '--force'),
      /source/,
    );
    expect(readdirSync(model).sort()).toEqual(readdirSync(hf).sort());
    expectOneLineFailure(await recur('train', ...base, '--out', data, '--steps', '1', '--force'), /is the source/);
    expect(readFileSync(data, 'utf8')).toHaveLength(60_000);
  });
});

describe('recur train --resume: tolerant of a crash, explicit about what it skips and what changed', () => {
  it('drops a torn last line of train.jsonl, says so, and finishes the run', async () => {
    const out = join(dir, 'torn');
    expect((await recur('train', ...base, '--out', out, '--steps', '4', '--stop-at', '2')).code).toBe(0);
    appendFileSync(join(out, 'train.jsonl'), '{"kind":"step","step":3,"lo'); // a crash mid-append
    const run = await recur('train', ...base, '--out', out, '--steps', '4', '--resume');
    expect(run.code).toBe(0);
    expect(warnings(run).join('\n')).toMatch(/train\.jsonl.*partial last line/);
    expect(stepsOf(out)).toEqual([1, 2, 3, 4]);
  });

  it('names the damaged checkpoints it skipped', async () => {
    const out = join(dir, 'damaged');
    expect(
      (await recur('train', ...base, '--out', out, '--steps', '4', '--stop-at', '2', '--save-every', '1')).code,
    ).toBe(0);
    const newest = join(out, 'checkpoints', 'step-000000002', 'model.safetensors');
    writeFileSync(newest, readFileSync(newest).subarray(0, 100));
    const run = await recur('train', ...base, '--out', out, '--steps', '4', '--save-every', '1', '--resume');
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout) as { resumedFrom: number }).resumedFrom).toBe(1);
    expect(warnings(run).join('\n')).toMatch(/skipped damaged checkpoint .*step-000000002/);
    expect(stepsOf(out)).toEqual([1, 2, 3, 4]);
  });

  it('refuses changed hyperparameters without --allow-changes and names them; with it, warns and goes on', async () => {
    const out = join(dir, 'changed');
    expect((await recur('train', ...base, '--out', out, '--steps', '4', '--stop-at', '2')).code).toBe(0);
    const changed = base.map((a) => (a === '3e-3' ? '1e-2' : a));
    expectOneLineFailure(
      await recur('train', ...changed, '--out', out, '--steps', '4', '--batch', '3', '--resume'),
      /differ.*batchSize 2 → 3, schedule\.peakLr 0\.003 → 0\.01.*--allow-changes/,
    );
    const run = await recur('train', ...changed, '--out', out, '--steps', '4', '--resume', '--allow-changes');
    expect(run.code).toBe(0);
    expect(warnings(run).join('\n')).toMatch(/schedule\.peakLr 0\.003 → 0\.01/);
  });
});

describe('recur train on a diverging setup', () => {
  it('stops with one line naming the step and the value, keeps the last good checkpoint and writes no model', async () => {
    const out = join(dir, 'diverge');
    const run = await recur(
      'train',
      ...base.map((a) => (a === '3e-3' ? '1e9' : a)),
      '--out',
      out,
      '--steps',
      '6',
      '--save-every',
      '1',
      '--schedule',
      'constant',
    );
    expectOneLineFailure(run, /diverged at step \d+: (loss|gradient norm) is (NaN|Infinity|-Infinity)/);
    expect(existsSync(join(out, 'model'))).toBe(false);
    const saved = readdirSync(join(out, 'checkpoints')).filter((name) => name.startsWith('step-'));
    expect(saved.length).toBeGreaterThan(0);
    expect(records(out).every((r) => r.kind !== 'step' || (r.loss !== null && Number.isFinite(r.loss)))).toBe(true);
  });

  it('an update that overflows the weights (finite loss, infinite weights) is caught before it is saved', async () => {
    const out = join(dir, 'overflow');
    const run = await recur(
      'train',
      ...base.map((a) => (a === '3e-3' ? '1e38' : a)),
      '--out',
      out,
      '--steps',
      '3',
      '--save-every',
      '1',
      '--schedule',
      'constant',
    );
    expectOneLineFailure(run, /diverged.*after step 1: .* is not finite/);
    expect(existsSync(join(out, 'model'))).toBe(false);
    expect(existsSync(join(out, 'checkpoints'))).toBe(false); // no checkpoint of the overflowed state
  });
});

describe('recur train --distill from a converted model', () => {
  it('finds the teacher from any folder, and names the teacher when it cannot', async () => {
    const work = join(dir, 'work');
    mkdirSync(work);
    const source = join(work, 'source');
    cpSync(hf, source, { recursive: true });
    expect(
      (
        await recurIn(
          work,
          'convert',
          'source',
          '--out',
          'rrt',
          '--loops',
          '2',
          '--lora-rank-attn',
          '2',
          '--lora-rank-mlp',
          '2',
          '--json',
        )
      ).code,
    ).toBe(0);
    const elsewhere = mkdtempSync(join(tmpdir(), 'recur-elsewhere-'));
    const rrt = relative(elsewhere, join(work, 'rrt'));
    const args = ['train', '--model', rrt, '--distill', ...base.slice(2), '--out', 'run', '--steps', '1'];
    expect((await recurIn(elsewhere, ...args)).code).toBe(0);
    cpSync(source, join(work, 'moved'), { recursive: true });
    for (const name of readdirSync(source)) writeFileSync(join(source, name), ''); // the teacher is gone
    expectOneLineFailure(
      await recurIn(elsewhere, ...args.slice(0, -4), '--out', 'run2', '--steps', '1'),
      /teacher .*source.*--teacher/,
    );
  });
});
