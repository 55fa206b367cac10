import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { createServingEngine, disposeModel, generate, type LoadedModel } from '@recur/engine';
import { loadComposition, loadCompositionLora, loadModel } from '@recur/engine/node';
import { loadServeAdapters, serveAdapterFlags } from '../src/commands/serveAdapters.js';
import { defaultLimits } from '../src/serve/limits.js';
import { createServeServer } from '../src/serve/server.js';
import { post } from './serve/client.js';
import { parseCompletion } from './serve/replies.js';
import { corpora, corpusSlice, scratchDir, stories260K, trainBudget } from './support/fixtures.js';
import { expectOneLineFailure, recur, trainJson } from './support/recur.js';

// `recur serve --adapter NAME=DIR` with a composition folder: a ScaLearn composition is folded into its one
// LoRA at load and served like any adapter (a served greedy request equals `generate --composition DIR`);
// a gated composition or a DVPT folder is refused at startup in one line naming the flag.

const { hf } = stories260K;
const dir = scratchDir('recur-serve-compose-');
const budget = trainBudget({ steps: 2, lr: 0.05 });
const data = join(dir, 'data.txt');

/** `recur train … --out dir/NAME` on the shared text; returns the --json summary. */
async function train(name: string, ...args: string[]): Promise<Record<string, string>> {
  return (await trainJson<Record<string, string>>(hf, join(dir, name), '--data', data, ...args, ...budget)).json;
}

const folders = { scalearn: '', gated: '', dvpt: '' };

beforeAll(async () => {
  corpusSlice(data, corpora.shakespeare, 8_000);
  const parts = [(await train('a', '--lora-rank', '2')).adapterDir, (await train('b', '--lora-rank', '3')).adapterDir];
  folders.scalearn = (await train('s', '--compose', parts.join(','))).compositionDir ?? '';
  folders.gated = (await train('g', '--compose', parts.join(','), '--compose-method', 'gated')).compositionDir ?? '';
  folders.dvpt =
    (await train('d', '--trainable', 'dvpt', '--dvpt-prompts', '2', '--dvpt-bottleneck', '4')).dvptDir ?? '';
}, 300_000);

describe('recur serve --adapter NAME=COMPOSITION', () => {
  it('serves a ScaLearn composition: a greedy request equals generate --composition DIR', async () => {
    await initBackend();
    const prompts = ['Once upon a time', 'First Citizen:'];
    const composed = await loadComposition(await loadModel(hf), folders.scalearn);
    const solo: string[] = [];
    for (const prompt of prompts)
      solo.push((await generate(composed, { prompt, maxNewTokens: 16, temperature: 0 })).text);
    disposeModel(composed);
    const model: LoadedModel = await loadModel(hf);
    const baseline = tf.memory().numTensors;
    const adapters = await loadServeAdapters(model, serveAdapterFlags([`mix=${folders.scalearn}`], 'stories260K'));
    const engine = await createServingEngine(model, { adapters });
    for (const lora of adapters) lora.dispose(); // the engine copied them
    const limits = { ...defaultLimits, contextLength: model.decoder.config.maxPositionEmbeddings };
    const server = createServeServer({
      engine,
      tokenizer: model.tokenizer,
      modelName: 'stories260K',
      adapters: ['mix'],
      limits,
    });
    try {
      const base = (await server.listen(0, '127.0.0.1')).url;
      const replies = await Promise.all(
        [...prompts, ...prompts].map((prompt, i) =>
          post(base, '/v1/completions', { prompt, max_tokens: 16, temperature: 0, ...(i < 2 && { model: 'mix' }) }),
        ),
      );
      for (const reply of replies) expect(reply.status).toBe(200);
      expect(replies.slice(0, 2).map((r) => parseCompletion(r.body).text)).toEqual(solo);
      // the composition changes the text, else the equality above proves little
      expect(replies.slice(2).map((r) => parseCompletion(r.body).text)).not.toEqual(solo);
    } finally {
      await server.shutdown();
      engine.dispose();
      expect(tf.memory().numTensors).toBe(baseline);
      disposeModel(model);
    }
  }, 120_000);

  it('refuses a gated composition and a DVPT folder at startup in one line naming the flag and why', async () => {
    expectOneLineFailure(
      await recur('serve', hf, '--adapter', `g=${folders.gated}`, '--port', '0'),
      /--adapter g=.*gated composition is not served.*input-dependent/,
    );
    expectOneLineFailure(
      await recur('serve', hf, '--adapter', `d=${folders.dvpt}`, '--port', '0'),
      /--adapter d=.*DVPT folder is not served.*input-dependent/,
    );
    // the library refuses too: no one LoRA equals per-token gates
    await initBackend();
    const model = await loadModel(hf);
    const baseline = tf.memory().numTensors;
    await expect(loadCompositionLora(model, folders.gated)).rejects.toThrow(
      /gated composition .*folds into no one LoRA/,
    );
    expect(tf.memory().numTensors).toBe(baseline);
    disposeModel(model);
  }, 120_000);
});
