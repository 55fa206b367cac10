import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corpora, corpusSlice, scratchDir, stories260K, trainBudget } from './support/fixtures.js';
import { expectOneLineFailure, greedyGenerate, meanNll, recur, trainJson } from './support/recur.js';

// Issue 17 §2: `--lora-kind mos` (MoS, Wang et al. 2024, arXiv 2410.00938) in convert and train.

const { hf } = stories260K;
const dir = scratchDir('recur-mos-');
const data = corpusSlice(join(dir, 'stories.txt'), corpora.tinystories, 12_000);
const budget = trainBudget({ data, steps: 3, lr: 0.02 });

const generateIds = async (...args: string[]) => (await greedyGenerate({ tokens: 8 }, ...args)).ids;

describe('recur convert/train --lora-kind mos', () => {
  const converted = join(dir, 'mos');

  it('convert prints MoS pool parameters against depth-wise LoRA at equal rank; train, inspect and generate take the folder', async () => {
    const run = await recur('convert', hf, '--out', converted, '--lora-kind', 'mos', '--mos-pool', '16', '--json');
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { mosParameters: { pools: number; depthwise: number; ratio: number } };
    expect(summary.mosParameters.pools).toBeLessThan(summary.mosParameters.depthwise);
    const inspect = await recur('inspect', converted);
    expect(inspect.stdout).toMatch(/MoS LoRA \(pool 16, 2 shards\/vector, 0\.25 private\)/);
    const out = join(dir, 'run');
    await trainJson(converted, out, '--trainable', 'lora', ...budget);
    const config = JSON.parse(readFileSync(join(out, 'model', 'config.json'), 'utf8')) as {
      recur: { loraKind: string };
    };
    expect(config.recur.loraKind).toBe('mos');
    expect(await generateIds('--model', join(out, 'model'))).toHaveLength(8);
  }, 300_000);

  it('trains a new MoS adapter on a plain model, saved as a PEFT adapter that eval and generate run', async () => {
    const out = join(dir, 'adapter-run');
    await trainJson(hf, out, '--lora-rank', '4', '--lora-kind', 'mos', ...budget);
    expect(existsSync(join(out, 'adapter', 'adapter_model.safetensors'))).toBe(true);
    expect(await generateIds('--model', hf, '--adapter', join(out, 'adapter'))).toHaveLength(8);
    // its B factors are no longer zero: held-out loss moves (3 small steps need not change greedy tokens)
    const nll = (...args: string[]) => meanNll('--model', hf, ...args, '--data', data, '--max-bytes', '3000');
    expect(await nll('--adapter', join(out, 'adapter'))).not.toBe(await nll());
  }, 300_000);

  it('refuses MoS flags that do not apply, with one line', async () => {
    expectOneLineFailure(
      await recur('convert', hf, '--out', join(dir, 'x'), '--mos-pool', '4'),
      /--mos-pool applies only with --lora-kind mos/,
    );
    expectOneLineFailure(
      await recur('convert', hf, '--out', join(dir, 'x'), '--lora-kind', 'mos', '--lora-init', 'svd'),
      /--lora-init does not apply with --lora-kind mos/,
    );
    expectOneLineFailure(
      await recur('convert', hf, '--out', join(dir, 'x'), '--lora-kind', 'mos', '--mos-shards', '3'),
      /--mos-shards 3 must divide/,
    );
    expectOneLineFailure(
      await recur('convert', hf, '--out', join(dir, 'x'), '--lora-kind', 'moe'),
      /--lora-kind must be one of/,
    );
    expectOneLineFailure(
      await recur('train', '--model', hf, '--out', join(dir, 'y'), '--lora-kind', 'mos', ...budget),
      /--lora-kind mos applies with --lora-rank/,
    );
  }, 120_000);
});
