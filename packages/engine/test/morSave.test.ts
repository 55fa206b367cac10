import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@recur/tensor';
import { disposeModel, exitRouting, withRouter } from '../src/index.js';
import { loadModel, saveModel, scratchModel } from '../src/node/index.js';

const tokenizer = fileURLToPath(new URL('../../../../shared/models/stories260K/hf/tokenizer.json', import.meta.url));

describe('a MoR model folder', () => {
  let dir = '';
  beforeAll(async () => {
    await initBackend();
    dir = await mkdtemp(join(tmpdir(), 'recur-mor-save-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each(['expert', 'token'] as const)('%s-choice router weights and recur.router reload bit-exact', async (kind) => {
    const configFile = join(dir, 'config.json');
    await writeFile(
      configFile,
      JSON.stringify({
        model_type: 'llama',
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 5,
        num_attention_heads: 2,
        num_key_value_heads: 1,
        vocab_size: 512,
        max_position_embeddings: 64,
        tie_word_embeddings: true,
      }),
    );
    const fresh = await scratchModel({
      configFile,
      tokenizer: { file: tokenizer },
      dir: join(dir, `tok-${kind}`),
      seed: 1,
      recursive: { loops: 3, strategy: 'middle-cycle' },
    });
    const model = withRouter(fresh, {
      kind,
      architecture: 'mlp',
      alpha: 0.25,
      kvMode: 'shared',
      threshold: 0.4,
      seed: 5,
    });
    await saveModel(model, join(dir, kind));
    const loaded = await loadModel(join(dir, kind));
    expect(loaded.recur?.router).toEqual(model.recur?.router);
    expect([...loaded.routerParams!.keys()].sort()).toEqual([...model.routerParams!.keys()].sort());
    for (const [key, t] of model.routerParams!)
      expect(Array.from(loaded.routerParams!.get(key)!.dataSync())).toEqual(Array.from(t.dataSync()));
    expect(loaded.decoder.loops.loops).toHaveLength(3);
    disposeModel(loaded);
    disposeModel(model);
  });

  it('calibrated thresholds reload exactly and route; a config with bad thresholds is refused naming the field', async () => {
    const configFile = join(dir, 'config-thresholds.json');
    await writeFile(
      configFile,
      JSON.stringify({
        model_type: 'llama',
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 5,
        num_attention_heads: 2,
        num_key_value_heads: 1,
        vocab_size: 512,
        max_position_embeddings: 64,
        tie_word_embeddings: true,
      }),
    );
    const fresh = await scratchModel({
      configFile,
      tokenizer: { file: tokenizer },
      dir: join(dir, 'tok-thresholds'),
      seed: 1,
      recursive: { loops: 3, strategy: 'middle-cycle' },
    });
    const plain = withRouter(fresh, { kind: 'expert', seed: 5 });
    const thresholds = [0, 0.4987654321012345, 0.5012345678901234];
    const model = { ...plain, recur: { ...plain.recur!, router: { ...plain.recur!.router!, thresholds } } };
    const folder = join(dir, 'thresholds');
    await saveModel(model, folder);
    const loaded = await loadModel(folder);
    expect(loaded.recur?.router?.thresholds).toEqual(thresholds); // bit-exact through JSON
    expect(exitRouting(loaded, { kind: 'router' }).update).toBe('gated');
    disposeModel(loaded);
    const file = join(folder, 'config.json');
    const saved = await readFile(file, 'utf8');
    for (const [bad, why] of [
      [[0, 0.5], /one threshold per recursion \(3\), got 2/],
      [[0, 0.5, 1], /\[2\] must be a number in \(0, 1\), got 1/],
      [[0.5, 0.5, 0.5], /\[0\] must be 0/],
      [[0, 'x', 0.5], /\[1\] must be a number/],
    ] as const) {
      const json = JSON.parse(saved) as { recur: { router: Record<string, unknown> } };
      json.recur.router.thresholds = bad;
      await writeFile(file, JSON.stringify(json));
      await expect(loadModel(folder)).rejects.toThrow(
        new RegExp(`config.json: config field "recur.router.thresholds" .*${why.source}`),
      );
    }
    const json = JSON.parse(saved) as { recur: { router: Record<string, unknown> } };
    json.recur.router.threshold = 1.5;
    await writeFile(file, JSON.stringify(json));
    await expect(loadModel(folder)).rejects.toThrow(
      /config field "recur.router.threshold" must be a number in \(0, 1\), got 1.5/,
    );
    disposeModel(model);
  });

  it('a token-choice router saves its form and loss-free bias; one saved before tokenForm existed reloads with its old gated-every-loop form', async () => {
    const configFile = join(dir, 'config-token.json');
    await writeFile(
      configFile,
      JSON.stringify({
        model_type: 'llama',
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 4,
        num_attention_heads: 2,
        num_key_value_heads: 1,
        vocab_size: 512,
        max_position_embeddings: 64,
        tie_word_embeddings: true,
      }),
    );
    const fresh = await scratchModel({
      configFile,
      tokenizer: { file: tokenizer },
      dir: join(dir, 'tok-form'),
      seed: 1,
      recursive: { loops: 2, strategy: 'middle-cycle' },
    });
    const model = withRouter(fresh, { kind: 'token', balance: 'loss-free', seed: 5 });
    // new routers: the paper's form
    expect(model.recur?.router).toMatchObject({ tokenForm: 'paper', balance: 'loss-free' });
    expect(Array.from(model.routerParams!.get('mor.token_router.balance_bias')!.dataSync())).toEqual([0, 0]);
    const folder = join(dir, 'token-form');
    await saveModel(model, folder);
    const loaded = await loadModel(folder);
    expect(loaded.recur?.router).toEqual(model.recur?.router);
    expect(loaded.routerParams!.has('mor.token_router.balance_bias')).toBe(true);
    expect(exitRouting(loaded, { kind: 'router' }).update).toBe('gated-once');
    disposeModel(loaded);
    // A config.json written before the field: no tokenForm, no balance.
    const file = join(folder, 'config.json');
    const json = JSON.parse(await readFile(file, 'utf8')) as { recur: { router: Record<string, unknown> } };
    delete json.recur.router.tokenForm;
    delete json.recur.router.balance;
    await writeFile(file, JSON.stringify(json));
    const old = await loadModel(folder);
    expect(old.recur?.router?.tokenForm).toBe('gated-every-loop');
    expect(exitRouting(old, { kind: 'router' }).update).toBe('gated');
    disposeModel(old);
    disposeModel(model);
  });
});
