import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tinyLlamaConfig } from './support/fixtures.js';
import { expectOneLineFailure, recur, shared } from './support/recur.js';

// Issue 13, "CLI inconsistencies and training resource limits": every flag means the same in every
// command, and nothing runs that the model or the machine cannot hold.
const hf = `${shared}models/stories260K/hf`;
const dir = mkdtempSync(join(tmpdir(), 'recur-checks-'));
const data = `${shared}corpora/tinystories_val/tinystories_val.txt`;
const config = (fields: Record<string, number>): string => {
  const file = join(dir, `config-${Object.values(fields).join('-')}.json`);
  writeFileSync(file, JSON.stringify(tinyLlamaConfig(fields)));
  return file;
};

describe('eval and train read a text file by one rule', () => {
  it('eval refuses an empty file', async () => {
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '');
    expectOneLineFailure(
      await recur('eval', '--model', hf, '--data', empty, '--json'),
      /empty\.txt: the text file is empty/,
    );
  });

  it('eval refuses the binary file that train refuses, with the same words', async () => {
    const binary = join(dir, 'weights.bin');
    writeFileSync(binary, readFileSync(`${hf}/model.safetensors`).subarray(0, 4096));
    const evaluated = await recur('eval', '--model', hf, '--data', binary);
    expectOneLineFailure(evaluated, /weights\.bin: .*not a UTF-8 text file/);
    const trained = await recur(
      'train',
      '--model',
      hf,
      '--data',
      binary,
      '--out',
      join(dir, 'bin-run'),
      '--steps',
      '1',
      '--seq',
      '16',
    );
    expectOneLineFailure(trained, /weights\.bin: .*not a UTF-8 text file/);
    expect(trained.stderr).toBe(evaluated.stderr);
  });

  it('a text file of NUL bytes is binary too', async () => {
    const zeros = join(dir, 'zeros.txt');
    writeFileSync(zeros, Buffer.alloc(64));
    expectOneLineFailure(await recur('eval', '--model', hf, '--data', zeros), /zeros\.txt: .*NUL byte at offset 0/);
  });
});

describe("sampling flags follow the server's rules", () => {
  it('generate refuses what the server refuses', async () => {
    const gen = (...args: string[]) => recur('generate', '--model', hf, '--max-new-tokens', '1', ...args);
    expectOneLineFailure(await gen('--top-p', '0'), /--top-p must be a number > 0 and ≤ 1, got "0"/);
    expectOneLineFailure(await gen('--temperature', '3'), /--temperature must be a number ≥ 0 and ≤ 2, got "3"/);
    expectOneLineFailure(await gen('--top-k', '1.5'), /--top-k must be an integer ≥ 0/);
  });

  it('seeds are integers in [0, 2^32 − 1] (mulberry32 keeps 32 bits)', async () => {
    for (const seed of ['-5', '1e300', '2.5', '4294967296']) {
      expectOneLineFailure(
        await recur('generate', '--model', hf, '--max-new-tokens', '1', '--seed', seed),
        /--seed must be an integer ≥ 0 and ≤ 4294967295/,
      );
    }
    expectOneLineFailure(
      await recur('train', '--model', hf, '--data', data, '--out', join(dir, 'seed-run'), '--seed', '-5'),
      /--seed must be an integer ≥ 0 and ≤ 4294967295/,
    );
    const top = await recur('generate', '--model', hf, '--max-new-tokens', '2', '--seed', '4294967295', '--json');
    expect(top.code, top.stderr).toBe(0);
  });
});

describe('--exit fixed:D deeper than the model', () => {
  let mc2: string;
  beforeAll(async () => {
    mc2 = join(dir, 'mc2');
    // The old depth fit, kept explicitly: K = round(3/2) = 2 shared layers (the loop bound below counts them)
    const run = await recur(
      'convert',
      hf,
      '--out',
      mc2,
      '--loops',
      '2',
      '--strategy',
      'middle-cycle',
      '--depth-fit',
      'round',
      '--init',
      'lower',
      '--lora-rank-attn',
      '2',
      '--lora-rank-mlp',
      '2',
      '--json',
    );
    expect(run.code, run.stderr).toBe(0);
  }, 60_000);

  it('is refused by generate, eval and serve, naming both depths', async () => {
    const text = join(dir, 'story.txt');
    writeFileSync(text, 'Once upon a time there was a cat.\n');
    expectOneLineFailure(
      await recur('generate', '--model', mc2, '--max-new-tokens', '2', '--exit', 'fixed:3'),
      /fixed:3 exceeds the model's 2 loops/,
    );
    expectOneLineFailure(
      await recur('eval', '--model', mc2, '--data', text, '--exit', 'fixed:3'),
      /fixed:3 exceeds the model's 2 loops/,
    );
    expectOneLineFailure(
      await recur('serve', mc2, '--port', '0', '--exit', 'fixed:3'),
      /fixed:3 exceeds the model's 2 loops/,
    );
    // A plain model runs one loop: any rule there would be accepted and ignored.
    for (const rule of ['fixed:2', 'maxprob:0.5']) {
      expectOneLineFailure(
        await recur('generate', '--model', hf, '--max-new-tokens', '2', '--exit', rule),
        /exit rule needs a recursive model .*runs 1 loop/,
      );
      expectOneLineFailure(
        await recur('eval', '--model', hf, '--data', text, '--exit', rule),
        /exit rule needs a recursive model .*runs 1 loop/,
      );
    }
    const fits = await recur('generate', '--model', mc2, '--max-new-tokens', '2', '--exit', 'fixed:2', '--json');
    expect(fits.code, fits.stderr).toBe(0);
  }, 60_000);

  it("--loops beyond the bound on a model's layers is refused, not run for minutes (or allocated)", async () => {
    for (const loops of ['5000', '1000000000']) {
      expectOneLineFailure(
        await recur('generate', '--model', mc2, '--max-new-tokens', '1', '--loops', loops),
        new RegExp(`--loops ${loops} would run ${2 * Number(loops)} shared layers; at most 511 loops`),
      );
    }
  });
});

describe('small CLI inconsistencies', () => {
  it('bench refuses --model together with --preset', async () => {
    expectOneLineFailure(
      await recur('bench', '--model', hf, '--preset', 'smollm-135m'),
      /--model or --preset, not both/,
    );
  });

  it('--backend cpu prints no "install tfjs-node" banner', async () => {
    const run = await recur('generate', '--model', hf, '--backend', 'cpu', '--max-new-tokens', '2', '--prompt', 'Hi');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout + run.stderr).not.toMatch(/tfjs-node|=====/);
  });
});

describe('training stays within the model and the machine', () => {
  it("train --seq past the model's context is refused, naming both", async () => {
    for (const seq of ['1000', '100000']) {
      const run = await recur(
        'train',
        '--model',
        hf,
        '--data',
        data,
        '--out',
        join(dir, `long-${seq}`),
        '--steps',
        '1',
        '--batch',
        '1',
        '--seq',
        seq,
      );
      expectOneLineFailure(run, new RegExp(`sequences of ${seq} tokens are longer than the model's context of 512`));
    }
  });

  it('config fields outside sane ranges are ConfigErrors naming the field', async () => {
    const scratch = (file: string) =>
      recur(
        'train',
        '--from-scratch',
        '--config',
        file,
        '--vocab-size',
        '300',
        '--data',
        data,
        '--out',
        join(dir, 'scratch'),
        '--steps',
        '1',
        '--seq',
        '16',
      );
    expectOneLineFailure(
      await scratch(config({ num_hidden_layers: 1e9 })),
      /config field "num_hidden_layers" must be a positive integer ≤ 1024, got 1000000000/,
    );
    expectOneLineFailure(
      await scratch(config({ hidden_size: 1e9 })),
      /config field "hidden_size" must be a positive integer ≤ 65536, got 1000000000/,
    );
  });

  it('a config too big for this machine is refused with the estimate before any allocation', async () => {
    const huge = config({
      hidden_size: 16384,
      intermediate_size: 65536,
      num_hidden_layers: 512,
      num_attention_heads: 128,
    });
    const run = await recur(
      'train',
      '--from-scratch',
      '--config',
      huge,
      '--vocab-size',
      '300',
      '--data',
      data,
      '--out',
      join(dir, 'huge'),
      '--steps',
      '1',
      '--seq',
      '16',
    );
    expectOneLineFailure(
      run,
      /training needs about [\d.]+ [kMGTP]B .* but (this machine|the wasm backend's heap) has [\d.]+ GB/,
    );
  });

  it('loadModel of a config.json with absurd sizes fails in one line before allocating', async () => {
    const folder = join(dir, 'absurd');
    mkdirSync(folder);
    for (const f of ['model.safetensors', 'tokenizer.json', 'tokenizer_config.json'])
      copyFileSync(`${hf}/${f}`, join(folder, f));
    const real = JSON.parse(readFileSync(`${hf}/config.json`, 'utf8')) as Record<string, unknown>;
    writeFileSync(join(folder, 'config.json'), JSON.stringify({ ...real, num_hidden_layers: 1e9 }));
    expectOneLineFailure(await recur('generate', '--model', folder, '--max-new-tokens', '1'), /num_hidden_layers/);
    writeFileSync(
      join(folder, 'config.json'),
      JSON.stringify({
        ...real,
        vocab_size: 4_000_000,
        hidden_size: 16384,
        head_dim: 128,
        num_attention_heads: 128,
        num_key_value_heads: 128,
      }),
    );
    expectOneLineFailure(
      await recur('generate', '--model', folder, '--max-new-tokens', '1'),
      /model\.safetensors|config\.json/,
    );
  });
});
