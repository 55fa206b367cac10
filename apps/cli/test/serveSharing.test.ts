import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { createServingEngine, disposeModel, generate } from '@recur/engine';
import { loadModel } from '@recur/engine/node';
import { defaultLimits } from '../src/serve/limits.js';
import { createServeServer } from '../src/serve/server.js';
import { post } from './serve/client.js';
import { parseCompletion } from './serve/replies.js';
import { scratchDir, stories260K } from './support/fixtures.js';
import { recur } from './support/recur.js';

// Issue 17's acceptance: a folder of every sharing mechanism (MoS, hyper and scaled LoRA, MASA atoms) is one
// that `recur serve` takes — concurrent greedy requests answer what `generate` says for the same folder.
const { hf } = stories260K;
const dir = scratchDir('recur-serve-sharing-');

const lora = ['--loops', '2', '--lora-rank-attn', '4', '--lora-rank-mlp', '4'];

describe.each([
  ['mos', [...lora, '--lora-kind', 'mos']],
  ['hyper', [...lora, '--lora-kind', 'hyper', '--hyper-dim', '2']],
  ['scaled', [...lora, '--lora-kind', 'scaled']],
  ['masa', ['--sharing', 'masa', '--atoms', '2']],
] as const)('recur serve on a %s folder', (name, flags) => {
  it('answers concurrent greedy requests as generate does', async () => {
    const folder = join(dir, name);
    const convert = await recur('convert', hf, '--out', folder, ...flags);
    expect(convert.code, convert.stderr).toBe(0);
    await initBackend();
    const prompts = ['Once upon a time', 'The little dog', 'Lily was'];
    const model = await loadModel(folder);
    const solo: string[] = [];
    for (const prompt of prompts) solo.push((await generate(model, { prompt, maxNewTokens: 12, temperature: 0 })).text);
    const baseline = tf.memory().numTensors;
    const engine = await createServingEngine(model);
    const limits = { ...defaultLimits, contextLength: model.decoder.config.maxPositionEmbeddings };
    const server = createServeServer({ engine, tokenizer: model.tokenizer, modelName: name, limits });
    try {
      const base = (await server.listen(0, '127.0.0.1')).url;
      const replies = await Promise.all(
        prompts.map((prompt) => post(base, '/v1/completions', { prompt, max_tokens: 12, temperature: 0 })),
      );
      for (const reply of replies) expect(reply.status, reply.body).toBe(200);
      expect(replies.map((r) => parseCompletion(r.body).text)).toEqual(solo);
    } finally {
      await server.shutdown();
      engine.dispose();
      expect(tf.memory().numTensors).toBe(baseline);
      disposeModel(model);
    }
  }, 300_000);
});
