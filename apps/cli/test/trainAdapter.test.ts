import { readFileSync, writeFileSync, existsSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corpora, corpusSlice, scratchDir, stories260K, trainBudget } from './support/fixtures.js';
import { expectOneLineFailure, greedyGenerate, meanNll, recur, recurJson, trainJson } from './support/recur.js';

// `recur train --trainable lora --lora-rank R` on a plain and on a converted model: only a new LoRA
// trains, it lands as a PEFT adapter in RUN/adapter naming its base (path and weight fingerprint),
// `generate --adapter` runs it (repeatable: deltas add), and an adapter for another base is refused.

const { hf } = stories260K;
const dir = scratchDir('recur-train-adapter-');
// A small slice keeps tokenizing and the held-out evaluations short.
const data = corpusSlice(join(dir, 'shakespeare.txt'), corpora.shakespeare, 12_000);
const budget = trainBudget({ data, steps: 3, lr: 0.02 });

const greedy = async (...args: string[]) => {
  const run = await greedyGenerate({ tokens: 12 }, ...args);
  expect(run.stderr).toBe('');
  return run.ids;
};

describe('recur train --lora-rank', () => {
  const run = join(dir, 'plain');

  it('trains only a new LoRA on a plain model and writes a PEFT adapter that names its base', async () => {
    const { json: summary } = await trainJson<{ trainedParameters: number; adapterDir: string }>(
      hf,
      run,
      ...['--trainable', 'lora', '--lora-rank', '4', '--lora-modules', 'q,v,down', ...budget],
    );
    // q [64←64], v [32←64], down [64←172] at rank 4 on 5 layers
    expect(summary.trainedParameters).toBe(5 * 4 * (64 + 64 + (64 + 32) + (172 + 64)));
    expect(summary.adapterDir).toBe(join(run, 'adapter'));
    expect(existsSync(join(run, 'model'))).toBe(false);
    const config = JSON.parse(readFileSync(join(run, 'adapter', 'adapter_config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(config).toMatchObject({ peft_type: 'LORA', base_model_name_or_path: hf, r: 4 });
    expect(config.target_modules).toEqual(['down_proj', 'q_proj', 'v_proj']);
    expect(config.recur_base_fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
  }, 240_000);

  it('generate --adapter runs it; given twice its delta counts twice; the GGUF of the same weights accepts it', async () => {
    const adapter = join(run, 'adapter');
    const plain = await greedy('--model', hf);
    const adapted = await greedy('--model', hf, '--adapter', adapter);
    expect(adapted).not.toEqual(plain);
    expect(await greedy('--model', stories260K.gguf, '--adapter', adapter)).toEqual(adapted);
    expect(await greedy('--model', hf, '--adapter', adapter, '--adapter', adapter)).not.toEqual(adapted);
  }, 120_000);

  it('an adapter whose fingerprint is another base is refused with one line', async () => {
    const other = join(dir, 'other');
    cpSync(join(run, 'adapter'), other, { recursive: true });
    const file = join(other, 'adapter_config.json');
    const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...config, recur_base_fingerprint: `sha256:${'0'.repeat(64)}` }));
    expectOneLineFailure(
      await recur('generate', '--model', hf, '--adapter', other, '--prompt', 'a', '--max-new-tokens', '2'),
      /adapter_config\.json: the adapter was trained on .*hf \(weights sha256:000000000000\), not on .*hf \(weights sha256:[0-9a-f]{12}\): an adapter for another base is refused/,
    );
  }, 60_000);

  it('refuses --lora-rank with another --trainable, a missing --lora-layers layer or a MoS adapter, and --lora-modules without --lora-rank', async () => {
    expectOneLineFailure(
      await recur('train', '--model', hf, '--out', join(dir, 'x'), '--trainable', 'all', '--lora-rank', '2', ...budget),
      /--lora-rank trains only the new LoRA: give --trainable lora/,
    );
    expectOneLineFailure(
      await recur('train', '--model', hf, '--out', join(dir, 'y'), '--lora-modules', 'q', ...budget),
      /--lora-modules and --lora-alpha apply only with --lora-rank R/,
    );
    expectOneLineFailure(
      await recur(
        'train',
        '--model',
        hf,
        '--out',
        join(dir, 'z'),
        '--lora-rank',
        '2',
        '--lora-modules',
        'q,x',
        ...budget,
      ),
      /--lora-modules: "x" is not one of q, k, v, o, gate, up, down/,
    );
    expectOneLineFailure(
      await recur('train', '--model', hf, '--out', join(dir, 'w'), '--lora-rank', '2', '--lora-layers', '9', ...budget),
      /--lora-layers: layer 9 does not exist \(the model stores 5\)/,
    );
    expectOneLineFailure(
      await recur(
        'train',
        '--model',
        hf,
        '--out',
        join(dir, 'v'),
        '--lora-rank',
        '2',
        '--lora-kind',
        'mos',
        '--lora-layers',
        '1',
        ...budget,
      ),
      /--lora-layers does not apply to a new MoS adapter/,
    );
  }, 60_000);

  it('--lora-layers LIST puts the new adapter only on those layers (the adapter file holds only them)', async () => {
    const out = join(dir, 'layers');
    const { json: summary, run: trained } = await trainJson<{ trainedParameters: number }>(
      hf,
      out,
      ...['--lora-rank', '4', '--lora-modules', 'q,v,down', '--lora-layers', '1,3', ...budget],
    );
    expect(trained.stderr).toMatch(/LoRA trains on layers 1, 3/);
    expect(summary.trainedParameters).toBe(2 * 4 * (64 + 64 + (64 + 32) + (172 + 64)));
    const config = JSON.parse(readFileSync(join(out, 'adapter', 'adapter_config.json'), 'utf8')) as {
      rank_pattern: Record<string, number>;
    };
    expect(Object.keys(config.rank_pattern).sort()).toEqual(
      ['1', '3'].flatMap((l) =>
        ['mlp.down_proj', 'self_attn.q_proj', 'self_attn.v_proj'].map((m) => `model.layers.${l}.${m}`),
      ),
    );
    expect((await greedy('--model', hf, '--adapter', join(out, 'adapter'))).length).toBeGreaterThan(1);
  }, 240_000);

  it('on a converted model: one LoRA per (layer, loop) step over its frozen own LoRA; generate --adapter runs it', async () => {
    const rrt = join(dir, 'rrt');
    await recurJson(
      'convert',
      hf,
      '--out',
      rrt,
      '--loops',
      '2',
      '--lora-rank-attn',
      '2',
      '--lora-rank-mlp',
      '2',
      '--json',
    );
    const out = join(dir, 'rec');
    const { json } = await trainJson<{ trainedParameters: number }>(
      rrt,
      out,
      '--lora-rank',
      '2',
      '--lora-modules',
      'o',
      ...budget,
    );
    const { trainedParameters } = json;
    const steps = (JSON.parse(readFileSync(join(rrt, 'config.json'), 'utf8')) as { recur: { layerOrder: number[] } })
      .recur.layerOrder.length;
    expect(trainedParameters).toBe(steps * 2 * (64 + 64));
    // the converted model's text is degenerate at this rank, so compare held-out scores instead of tokens
    const nll = (...extra: string[]) =>
      meanNll('--model', rrt, ...extra, '--data', data, '--max-bytes', '2000', '--window', '64');
    const [own, adapted] = [await nll(), await nll('--adapter', join(out, 'adapter'))];
    expect(Number.isFinite(adapted)).toBe(true);
    expect(adapted).not.toBe(own);
    expectOneLineFailure(
      await recur(
        'generate',
        '--model',
        hf,
        '--adapter',
        join(out, 'adapter'),
        '--prompt',
        'a',
        '--max-new-tokens',
        '2',
      ),
      /made for another model|another base/,
    );
  }, 240_000);
});
