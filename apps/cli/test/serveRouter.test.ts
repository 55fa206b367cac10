import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { post } from './serve/client.js';
import { parseCompletion } from './serve/replies.js';
import { tinyLlamaConfig } from './support/fixtures.js';
import { recur, shared } from './support/recur.js';

// Issue 14 §2: `recur serve` runs a MoR router model with its router (continuous depth-wise batching),
// and returns the text and per-token depths `recur generate` gives (greedy), for expert- and
// token-choice stories260K-tokenizer models trained briefly here (as train-router.test.ts trains them).

const cli = fileURLToPath(new URL('../dist/recur.js', import.meta.url));
const hf = `${shared}models/stories260K/hf`;
const dir = mkdtempSync(join(tmpdir(), 'recur-serve-router-'));
const prompts = ['Once upon a time', 'The little dog', 'Lily', 'One day, a girl'];
let child: ChildProcess | undefined;

afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
});

beforeAll(async () => {
  const data = join(dir, 'stories.txt');
  writeFileSync(data, readFileSync(`${shared}corpora/tinystories_val/tinystories_val.txt`, 'utf8').slice(0, 40_000));
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify(
      tinyLlamaConfig({
        num_hidden_layers: 5,
        num_key_value_heads: 2,
        vocab_size: 512,
        rms_norm_eps: 1e-5,
        tie_word_embeddings: true,
      }),
    ),
  );
  const base = [
    '--from-scratch',
    '--config',
    config,
    '--tokenizer',
    `${hf}/tokenizer.json`,
    '--loops',
    '3',
    '--strategy',
    'middle-cycle',
    '--data',
    data,
    '--batch',
    '2',
    '--seq',
    '32',
    '--eval-every',
    '2',
    '--save-every',
    '4',
    '--lr',
    '3e-3',
    '--seed',
    '1',
    '--steps',
    '4',
    '--json',
  ];
  const runs = await Promise.all(
    ['expert', 'token'].map((kind) => recur('train', ...base, '--router', kind, '--out', join(dir, kind))),
  );
  for (const run of runs) expect(run.code, run.stderr).toBe(0);
}, 240_000);

/** Spawns `recur serve MODEL … --json` and resolves with its URL once it listens. */
function spawnServe(...args: string[]): Promise<string> {
  const proc = spawn(process.execPath, [cli, 'serve', ...args, '--port', '0', '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  let [out, err] = ['', ''];
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0]!) as { url: string }).url);
    });
    proc.on('exit', (code) => reject(new Error(`recur serve exited (${code}) before it was ready: ${err}`)));
  });
}

interface Seen {
  readonly text: string;
  readonly depths: readonly number[];
}

async function generated(model: string, prompt: string, ...extra: string[]): Promise<Seen> {
  const run = await recur(
    'generate',
    '--model',
    model,
    '--prompt',
    prompt,
    '--max-new-tokens',
    '12',
    '--temperature',
    '0',
    '--json',
    ...extra,
  );
  expect(run.code, run.stderr).toBe(0);
  const out = JSON.parse(run.stdout) as { text: string; depths?: number[] };
  return { text: out.text, depths: out.depths ?? [] };
}

/** Every prompt at once against a running server. */
async function servedAll(url: string): Promise<Seen[]> {
  return Promise.all(
    prompts.map(async (prompt) => {
      const reply = await post(url, '/v1/completions', { prompt, max_tokens: 12, temperature: 0 });
      expect(reply.status, reply.body).toBe(200);
      const { text, depths } = parseCompletion(reply.body);
      return { text, depths };
    }),
  );
}

describe('recur serve on a router model', () => {
  it.each(['expert', 'token'])(
    '%s choice: served text and depths equal recur generate (routed by default, --exit router too)',
    async (kind) => {
      const model = join(dir, kind, 'model');
      const reference: Seen[] = [];
      for (const prompt of prompts) reference.push(await generated(model, prompt));
      const depths = reference.flatMap((r) => r.depths);
      expect(depths.length).toBeGreaterThan(0);
      expect(depths.some((d) => d < 3)).toBe(true); // the router exits some tokens early
      expect(await servedAll(await spawnServe(model))).toEqual(reference);
      child!.kill('SIGKILL');
      expect(await servedAll(await spawnServe(model, '--exit', 'router'))).toEqual(reference);
    },
    120_000,
  );

  it('--exit none serves full depth, as recur generate --exit none', async () => {
    const model = join(dir, 'expert', 'model');
    const full = await servedAll(await spawnServe(model, '--exit', 'none'));
    for (const [i, prompt] of prompts.entries()) {
      expect(full[i]!.depths.every((d) => d === 3)).toBe(true);
      expect(full[i]!.text).toBe((await generated(model, prompt, '--exit', 'none')).text);
    }
  }, 120_000);
});
