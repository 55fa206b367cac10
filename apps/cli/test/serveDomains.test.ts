import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import {
  createDomainServingEngine,
  createServingEngine,
  disposeModel,
  domainView,
  endKeys,
  generate,
} from '@recur/engine';
import { loadModel } from '@recur/engine/node';
import { defaultLimits } from '../src/serve/limits.js';
import { createServeServer } from '../src/serve/server.js';
import { call, post } from './serve/client.js';
import { parseCompletion } from './serve/replies.js';
import { scratchDir, stories260K } from './support/fixtures.js';
import { recur } from './support/recur.js';

// `recur serve` on a model converted with --ends per-domain:NAMES (Uni-X, arXiv 2509.24365): a request's
// "domain" picks that domain's ends; greedy replies equal `generate --domain NAME` under concurrent
// mixed-domain load; an unknown domain, or "domain" on a model without domains, is a 400.

const { hf } = stories260K;
const dir = scratchDir('recur-serve-domains-');
const out = join(dir, 'ux');
const prompts = ['Once upon a time', 'The little dog'];

/** Doubles the verse domain's MLP down projections in the saved file, so its ends differ from stories'. */
function perturbVerse(file: string): void {
  const bytes = readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<
    string,
    { dtype: string; data_offsets: [number, number] }
  >;
  for (const [name, entry] of Object.entries(header)) {
    if (!name.startsWith('domains.verse.') || !name.endsWith('mlp.down_proj.weight')) continue;
    expect(entry.dtype).toBe('F32');
    const [start, end] = entry.data_offsets.map((o) => o + 8 + headerLength) as [number, number];
    for (let at = start; at < end; at += 4) bytes.writeFloatLE(bytes.readFloatLE(at) * 2, at);
  }
  writeFileSync(file, bytes);
}

beforeAll(async () => {
  const flags = ['--strategy', 'middle-cycle', '--loops', '3', '--ends', 'per-domain:stories,verse'];
  const run = await recur('convert', hf, '--out', out, ...flags);
  expect(run.code, run.stderr).toBe(0);
  perturbVerse(join(out, 'model.safetensors'));
}, 120_000);

/** Greedy completions of `prompts`, as `recur generate --domain NAME --temperature 0` runs them. */
async function generated(domain: string): Promise<string[]> {
  const model = await loadModel(out, { domain });
  const texts: string[] = [];
  for (const prompt of prompts) texts.push((await generate(model, { prompt, maxNewTokens: 12, temperature: 0 })).text);
  disposeModel(model);
  return texts;
}

describe('recur serve with per-domain ends', () => {
  it('routes "domain" to its ends: concurrent mixed-domain greedy replies equal generate --domain', async () => {
    await initBackend();
    const truth = { stories: await generated('stories'), verse: await generated('verse') };
    expect(truth.verse).not.toEqual(truth.stories); // the ends differ, else routing proves nothing
    const model = await loadModel(out);
    const baseline = tf.memory().numTensors;
    // the middle is shared by the views, only the ends are the domain's own
    const view = domainView(model, 'verse');
    const ends = new Set(endKeys(model.decoder.config, model.domain!.section));
    for (const [key, tensor] of model.decoder.weights)
      expect(view.model.decoder.weights.get(key) === tensor, key).toBe(!ends.has(key));
    view.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
    const engine = await createDomainServingEngine(model, { scheduler: { maxRowsPerStep: 8 } });
    const limits = { ...defaultLimits, contextLength: model.decoder.config.maxPositionEmbeddings };
    const server = createServeServer({
      engine,
      tokenizer: model.tokenizer,
      modelName: 'ux',
      domains: engine.domains,
      limits,
    });
    try {
      const base = (await server.listen(0, '127.0.0.1')).url;
      const asks = (['verse', 'stories', undefined] as const).flatMap((domain) =>
        prompts.map((prompt) => ({ prompt, domain })),
      );
      const replies = await Promise.all(
        [...asks, ...asks].map(({ prompt, domain }) =>
          post(base, '/v1/completions', {
            prompt,
            max_tokens: 12,
            temperature: 0,
            ...(domain !== undefined && { domain }),
          }),
        ),
      );
      for (const reply of replies) expect(reply.status, reply.body).toBe(200);
      const texts = replies.map((r) => parseCompletion(r.body).text);
      const expected = [...truth.verse, ...truth.stories, ...truth.stories]; // absent: the saved active domain
      expect(texts).toEqual([...expected, ...expected]);
      const chat = await post(base, '/v1/chat/completions', {
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 4,
        domain: 'verse',
      });
      expect(chat.status, chat.body).toBe(200);

      const unknown = await post(base, '/v1/completions', { prompt: 'Once', max_tokens: 2, domain: 'prose' });
      expect(unknown.status).toBe(400);
      const error = (JSON.parse(unknown.body) as { error: Record<string, unknown> }).error;
      expect(error).toMatchObject({ type: 'invalid_request_error', param: 'domain' });
      expect(error.message).toMatch(/"prose" is not one of the model's domains: "stories", "verse"/);
      const typed = await post(base, '/v1/completions', { prompt: 'Once', max_tokens: 2, domain: 3 });
      expect(typed.status).toBe(400);

      const models = JSON.parse((await call(base, 'GET', '/v1/models')).body) as { data: { domains: string[] }[] };
      expect(models.data[0]!.domains).toEqual(['stories', 'verse']);
      expect(engine.stats().finished).toBe(replies.length + 1);
      // the library refuses as the server does
      await expect(engine.submit({ promptIds: [1], maxNewTokens: 1, domain: 'prose' })).rejects.toThrow(
        /domain prose: the model's domains are stories, verse/,
      );
    } finally {
      await server.shutdown();
      engine.dispose();
      expect(tf.memory().numTensors).toBe(baseline);
      disposeModel(model);
    }
  }, 180_000);

  it('answers "domain" on a model without per-domain ends with a 400 saying so', async () => {
    await initBackend();
    const model = await loadModel(hf);
    const baseline = tf.memory().numTensors;
    const engine = await createServingEngine(model);
    const limits = { ...defaultLimits, contextLength: model.decoder.config.maxPositionEmbeddings };
    const server = createServeServer({ engine, tokenizer: model.tokenizer, modelName: 'stories260K', limits });
    try {
      const base = (await server.listen(0, '127.0.0.1')).url;
      const reply = await post(base, '/v1/completions', { prompt: 'Once', max_tokens: 2, domain: 'stories' });
      expect(reply.status).toBe(400);
      const error = (JSON.parse(reply.body) as { error: Record<string, unknown> }).error;
      expect(error).toMatchObject({ type: 'invalid_request_error', param: 'domain' });
      expect(error.message).toMatch(/"stories260K" has no per-domain ends/);
      const models = JSON.parse((await call(base, 'GET', '/v1/models')).body) as { data: object[] };
      expect(models.data[0]).not.toHaveProperty('domains');
      await expect(engine.submit({ promptIds: [1], maxNewTokens: 1, domain: 'stories' })).rejects.toThrow(RangeError);
      await expect(createDomainServingEngine(model)).rejects.toThrow(/has no per-domain ends/);
    } finally {
      await server.shutdown();
      engine.dispose();
      expect(tf.memory().numTensors).toBe(baseline);
      disposeModel(model);
    }
  }, 60_000);
});
