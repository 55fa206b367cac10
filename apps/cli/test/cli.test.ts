import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tinyLlamaConfig } from './support/fixtures.js';
import { expectOneLineFailure, recur, shared } from './support/recur.js';

const stories = `${shared}models/stories260K/`;
const gguf = `${stories}stories260K.gguf`;
const hf = `${stories}hf`;
const greedy = JSON.parse(readFileSync(`${stories}reference/greedy_bos_200.json`, 'utf8')) as { ids: number[] };

describe('recur CLI', () => {
  it.each(['inspect', 'generate', 'eval', 'convert', 'export', 'train', 'bench', 'sample-corpus'])(
    '%s --help prints usage',
    async (command) => {
      const run = await recur(command, '--help');
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/Usage: recur/);
      expect(run.stdout).toMatch(
        command === 'convert'
          ? /--loops/
          : command === 'export'
            ? /--lora/
            : command === 'train'
              ? /--resume/
              : /--model/,
      );
    },
  );

  it('generate --json follows the contract and reproduces the golden greedy tokens', async () => {
    const run = await recur(
      'generate',
      '--model',
      gguf,
      '--prompt',
      '',
      '--max-new-tokens',
      '20',
      '--temperature',
      '0',
      '--json',
    );
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as { promptIds: number[]; ids: number[]; text: string };
    expect(out.promptIds).toEqual([1]);
    expect(out.ids).toEqual(greedy.ids.slice(1, 21));
    expect(out.text).toMatch(/^Once upon a time/);
  });

  it('generate streams text that continues the prompt', async () => {
    const run = await recur(
      'generate',
      '--model',
      hf,
      '--prompt',
      'Once upon a time',
      '--max-new-tokens',
      '12',
      '--temperature',
      '0',
    );
    expect(run.code).toBe(0);
    expect(run.stdout.startsWith('Once upon a time')).toBe(true);
    expect(run.stdout.length).toBeGreaterThan('Once upon a time'.length + 10);
  });

  it('eval --json scores the TinyStories slice by the reference protocol', async () => {
    const data = `${shared}corpora/tinystories_val/tinystories_val.txt`;
    const run = await recur('eval', '--model', hf, '--data', data, '--max-bytes', '16384', '--window', '256', '--json');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as { tokens: number; meanNll: number; perplexity: number };
    expect(out.tokens).toBe(7890);
    expect(Math.abs(out.perplexity / 4.59624969759375 - 1)).toBeLessThan(0.005);
  });

  it('inspect --json reports the architecture and the exact parameter count', async () => {
    const run = await recur('inspect', gguf, '--json');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as { parameters: number; config: { numLayers: number }; tensors: unknown[] };
    expect(out.parameters).toBe(260_032);
    expect(out.config.numLayers).toBe(5);
    expect(out.tensors.length).toBeGreaterThan(40);
  });
});

describe('recur convert', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-convert-'));

  it('writes a recursive model with a summary that eval and inspect accept', async () => {
    const out = join(dir, 'cycle');
    const run = await recur(
      'convert',
      hf,
      '--out',
      out,
      '--loops',
      '5',
      '--strategy',
      'cycle',
      '--init',
      'average',
      '--lora-rank-attn',
      'full',
      '--lora-rank-mlp',
      'full',
      '--norms',
      'per-loop',
      '--json',
    );
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout) as { parameters: { source: number; shared: number }; blockSize: number };
    expect(summary.blockSize).toBe(1);
    expect(summary.parameters.shared).toBe(32768 + 64 + 45440);
    const inspect = JSON.parse((await recur('inspect', out, '--json')).stdout) as {
      recur: { strategy: string; layerOrder: number[] };
    };
    expect(inspect.recur.layerOrder).toEqual([0, 0, 0, 0, 0]);
    const data = `${shared}corpora/tinystories_val/tinystories_val.txt`;
    const evalRun = await recur('eval', '--model', out, '--data', data, '--max-bytes', '4096', '--json');
    const base = await recur('eval', '--model', hf, '--data', data, '--max-bytes', '4096', '--json');
    // full-rank SVD LoRA with per-loop norms is exact, so perplexity matches the source
    expect((JSON.parse(evalRun.stdout) as { perplexity: number }).perplexity).toBeCloseTo(
      (JSON.parse(base.stdout) as { perplexity: number }).perplexity,
      3,
    );
  });

  it.each([
    [['--loops', '9'], /no layer to share/],
    [['--lora-rank-attn', '99'], /rank 99 does not fit/],
    [['--strategy', 'spiral'], /--strategy must be one of/],
    [['--init', 'magic'], /--init must be one of/],
  ])('refuses %j with one line', async (args, pattern) => {
    expectOneLineFailure(await recur('convert', hf, '--out', join(dir, 'bad'), ...args), pattern);
  });

  it('refuses an unknown source architecture', async () => {
    const folder = join(dir, 'gpt2');
    mkdirSync(folder);
    writeFileSync(
      join(folder, 'config.json'),
      JSON.stringify({ model_type: 'gpt2', architectures: ['GPT2LMHeadModel'] }),
    );
    writeFileSync(join(folder, 'model.safetensors'), readFileSync(`${hf}/model.safetensors`));
    expectOneLineFailure(await recur('convert', folder, '--out', join(dir, 'x')), /gpt2/i);
  });
});

describe('recur generate --fast', () => {
  it.each(['1', '2'])('reproduces the golden greedy tokens on the fused kernels with %s thread(s)', async (threads) => {
    const run = await recur(
      'generate',
      '--model',
      gguf,
      '--max-new-tokens',
      '200',
      '--temperature',
      '0',
      '--fast',
      '--threads',
      threads,
      '--json',
    );
    const out = JSON.parse(run.stdout) as { promptIds: number[]; ids: number[]; path: string };
    expect(out.path).toBe('fast');
    expect([...out.promptIds, ...out.ids]).toEqual(greedy.ids);
  });
});

describe('recur export', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-export-'));

  it('unrolls a converted model; merged and PEFT exports generate what the converted model generates', async () => {
    const converted = join(dir, 'rrt');
    // The old depth fit, kept explicitly: first + 2 loops × K = round(3 / 2) = 2 + last
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
          '--depth-fit',
          'round',
          '--init',
          'average',
          '--lora-rank-attn',
          '4',
          '--lora-rank-mlp',
          '4',
          '--json',
        )
      ).code,
    ).toBe(0);
    const merged = JSON.parse((await recur('export', converted, '--out', join(dir, 'merged'), '--json')).stdout) as {
      numLayers: number;
      adapterDir: string | null;
    };
    expect(merged).toMatchObject({ numLayers: 6, adapterDir: null });
    const peft = JSON.parse(
      (await recur('export', converted, '--out', join(dir, 'peft'), '--lora', 'peft', '--json')).stdout,
    ) as { adapterDir: string };
    const tokens = async (...model: string[]) =>
      (
        JSON.parse(
          (await recur('generate', ...model, '--max-new-tokens', '20', '--temperature', '0', '--json')).stdout,
        ) as { ids: number[] }
      ).ids;
    const expected = await tokens('--model', converted);
    expect(expected).toHaveLength(20);
    expect(await tokens('--model', join(dir, 'merged'))).toEqual(expected);
    expect(await tokens('--model', join(dir, 'peft'), '--adapter', peft.adapterDir)).toEqual(expected);
  });

  it('--gguf writes a llama.cpp file that generates the same tokens', async () => {
    const file = join(dir, 'stories.gguf');
    const run = JSON.parse((await recur('export', hf, '--gguf', '--out', file, '--json')).stdout) as {
      numLayers: number;
      dtype: string;
    };
    expect(run).toMatchObject({ numLayers: 5, dtype: 'F32' });
    const ids = JSON.parse(
      (await recur('generate', '--model', file, '--max-new-tokens', '200', '--temperature', '0', '--json')).stdout,
    ) as { promptIds: number[]; ids: number[] };
    expect([...ids.promptIds, ...ids.ids]).toEqual(greedy.ids);
  });

  it('--gguf --dtype q8_0 writes quantized matrices (norms and 172-wide ffn_down stay f32) that generate like F32 for 100 tokens', async () => {
    const file = join(dir, 'stories-q8_0.gguf');
    const run = JSON.parse(
      (await recur('export', hf, '--gguf', '--out', file, '--dtype', 'q8_0', '--json')).stdout,
    ) as { dtype: string; tensorTypes: Record<string, number> };
    expect(run).toMatchObject({ dtype: 'Q8_0', tensorTypes: { Q8_0: 31, F32: 16 } });
    const ids = JSON.parse(
      (await recur('generate', '--model', file, '--max-new-tokens', '100', '--temperature', '0', '--json')).stdout,
    ) as { promptIds: number[]; ids: number[] };
    // Q8_0 first differs at generated token 114 (gguf-quant.test.ts)
    expect([...ids.promptIds, ...ids.ids]).toEqual(greedy.ids.slice(0, 101));
  });

  it('refuses an unknown --dtype, and --dtype without --gguf, with one line', async () => {
    expectOneLineFailure(
      await recur('export', hf, '--gguf', '--out', join(dir, 'x.gguf'), '--dtype', 'q4_k'),
      /--dtype must be one of f32, f16, q8_0, q4_0, got "q4_k"/,
    );
    expectOneLineFailure(
      await recur('export', hf, '--out', join(dir, 'y'), '--dtype', 'q8_0'),
      /--dtype applies to --gguf/,
    );
  });

  it('refuses an unknown --lora mode and a missing --out with one line', async () => {
    expectOneLineFailure(await recur('export', hf, '--out', join(dir, 'x'), '--lora', 'fold'), /--lora must be one of/);
    expectOneLineFailure(await recur('export', hf), /--out DIR is required/);
  });
});

describe('recur train', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-train-'));
  const data = `${shared}corpora/tinystories_val/tinystories_val.txt`;
  const base = [
    '--data',
    data,
    '--batch',
    '2',
    '--seq',
    '32',
    '--val-fraction',
    '0.005',
    '--eval-every',
    '2',
    '--save-every',
    '2',
    '--lr',
    '3e-3',
    '--json',
  ];
  const losses = (runDir: string) =>
    readFileSync(join(runDir, 'train.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; step: number; loss: number })
      .filter((r) => r.kind === 'step');

  it('stops and resumes a converted model with distillation exactly where an uninterrupted run goes', async () => {
    const converted = join(dir, 'rrt');
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
          '--init',
          'lower',
          '--lora-rank-attn',
          '2',
          '--lora-rank-mlp',
          '2',
          '--json',
        )
      ).code,
    ).toBe(0);
    const args = ['--model', converted, '--distill', ...base];
    const straight = await recur('train', ...args, '--out', join(dir, 'straight'), '--steps', '6');
    expect(straight.code).toBe(0);
    const summary = JSON.parse(straight.stdout) as {
      steps: number;
      heldOut: { before: { perplexity: number }; after: { perplexity: number } };
    };
    expect(summary.steps).toBe(6);
    expect((await recur('train', ...args, '--out', join(dir, 'split'), '--steps', '6', '--stop-at', '4')).code).toBe(0);
    const resumed = JSON.parse(
      (await recur('train', ...args, '--out', join(dir, 'split'), '--steps', '6', '--resume')).stdout,
    ) as { resumedFrom: number };
    expect(resumed.resumedFrom).toBe(4);
    expect(losses(join(dir, 'split')).map((r) => r.loss)).toEqual(losses(join(dir, 'straight')).map((r) => r.loss));
    expect(readFileSync(join(dir, 'straight', 'loss.svg'), 'utf8')).toMatch(/^<svg/);
    const evalRun = await recur(
      'eval',
      '--model',
      join(dir, 'straight', 'model'),
      '--data',
      data,
      '--max-bytes',
      '2048',
      '--json',
    );
    expect(evalRun.code).toBe(0); // the trained recursive model reloads
  });

  it('trains a model from scratch with its own BPE tokenizer', async () => {
    const config = join(dir, 'tiny.json');
    writeFileSync(
      config,
      JSON.stringify(tinyLlamaConfig({ num_key_value_heads: 2, rms_norm_eps: 1e-5, tie_word_embeddings: true })),
    );
    const run = await recur(
      'train',
      '--from-scratch',
      '--config',
      config,
      '--vocab-size',
      '300',
      ...base,
      '--out',
      join(dir, 'scratch'),
      '--steps',
      '4',
    );
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout) as {
      finalTrainLoss: number;
      heldOut: { before: { perplexity: number }; after: { perplexity: number } };
    };
    expect(summary.heldOut.after.perplexity).toBeLessThan(summary.heldOut.before.perplexity);
    const gen = await recur(
      'generate',
      '--model',
      join(dir, 'scratch', 'model'),
      '--prompt',
      'Once',
      '--max-new-tokens',
      '5',
      '--json',
    );
    expect(gen.code).toBe(0);
  });

  it('refuses bad input with one line and overwrites nothing', async () => {
    const run = join(dir, 'straight');
    const before = readFileSync(join(run, 'train.jsonl'), 'utf8');
    expectOneLineFailure(
      await recur('train', '--model', hf, ...base, '--out', run, '--steps', '2'),
      /already holds a training run/,
    );
    expectOneLineFailure(
      await recur('train', '--model', hf, ...base, '--out', run, '--steps', '8', '--resume'),
      /different model/,
    );
    expect(readFileSync(join(run, 'train.jsonl'), 'utf8')).toBe(before);
    const tiny = join(dir, 'tiny.txt');
    writeFileSync(tiny, 'One small story.\n\nAnother one.\n');
    expectOneLineFailure(
      await recur(
        'train',
        '--model',
        hf,
        '--data',
        tiny,
        '--out',
        join(dir, 'tiny-run'),
        '--seq',
        '64',
        '--steps',
        '2',
      ),
      /tiny\.txt/,
    );
    writeFileSync(join(dir, 'file'), '');
    expectOneLineFailure(
      await recur('train', '--model', hf, '--data', data, '--out', join(dir, 'file', 'run'), '--steps', '2'),
      /cannot create the run folder/,
    );
    const wrongVocab = join(dir, 'wrong.json');
    writeFileSync(wrongVocab, JSON.stringify(tinyLlamaConfig({ vocab_size: 999 })));
    expectOneLineFailure(
      await recur(
        'train',
        '--from-scratch',
        '--config',
        wrongVocab,
        '--vocab-size',
        '300',
        '--data',
        data,
        '--out',
        join(dir, 'wrong'),
        '--steps',
        '2',
        '--seq',
        '64',
      ),
      /vocab_size is 999/,
    );
  });
});

describe('recur CLI on bad input: one line, non-zero exit, no stack', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-cli-'));

  it('a path that does not exist', async () => {
    expectOneLineFailure(await recur('inspect', join(dir, 'nope.gguf')), /nope\.gguf/);
  });

  it('a directory with no model', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    expectOneLineFailure(await recur('inspect', empty), /empty/);
  });

  it('a truncated safetensors file', async () => {
    const folder = join(dir, 'truncated');
    mkdirSync(folder);
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json'])
      copyFileSync(`${hf}/${f}`, join(folder, f));
    writeFileSync(join(folder, 'model.safetensors'), readFileSync(`${hf}/model.safetensors`).subarray(0, 5000));
    expectOneLineFailure(await recur('inspect', folder), /model\.safetensors/);
  });

  it('a GGUF with the wrong magic', async () => {
    const file = join(dir, 'bad.gguf');
    const bytes = readFileSync(gguf);
    bytes.write('GGUX', 0, 'latin1');
    writeFileSync(file, bytes);
    expectOneLineFailure(await recur('inspect', file), /bad\.gguf/);
  });

  it('a bad option value', async () => {
    expectOneLineFailure(await recur('generate', '--model', gguf, '--max-new-tokens', 'lots'), /max-new-tokens/);
  });

  it('--loops on a model that was not converted', async () => {
    expectOneLineFailure(await recur('generate', '--model', gguf, '--loops', '2'), /converted/);
  });

  it('a missing data file', async () => {
    expectOneLineFailure(await recur('eval', '--model', gguf, '--data', join(dir, 'missing.txt')), /missing\.txt/);
  });
});
