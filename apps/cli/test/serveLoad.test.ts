import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { initBackend, tf } from '@recur/tensor';
import {
  createServingEngine,
  disposeFast,
  disposeModel,
  generate,
  type LoadedModel,
  type ServingEngine,
} from '@recur/engine';
import { loadModel } from '@recur/engine/node';
import { defaultLimits } from '../src/serve/limits.js';
import { createServeServer, type ServeServer } from '../src/serve/server.js';
import { call, disconnectMidStream, post, sseData, type Reply } from './serve/client.js';
import { parseCompletion, parseError, streamedText } from './serve/replies.js';

// Acceptance of `recur serve` on the real serving engine (createServingEngine, continuous batching)
// and stories260K, over loopback: 32 concurrent clients send 256 requests — valid completions and
// chats (JSON and SSE, some with stop strings), malformed bodies, oversize bodies and streams the
// client drops midway. Every valid request must get the greedy text of the same request run alone.

const hf = fileURLToPath(new URL('../../../../shared/models/stories260K/hf', import.meta.url));
const clients = 32;
const rounds = 8;

let model: LoadedModel;
let engine: ServingEngine;
let server: ServeServer;
let base: string;
let baseline: number;

beforeAll(async () => {
  await initBackend();
  model = await loadModel(hf);
  baseline = tf.memory().numTensors;
  engine = await createServingEngine(model);
  const limits = {
    ...defaultLimits,
    maxBodyBytes: 16 * 1024,
    maxTokens: 96,
    contextLength: model.decoder.config.maxPositionEmbeddings,
  };
  server = createServeServer({ engine, tokenizer: model.tokenizer, modelName: 'stories260K', limits });
  base = (await server.listen(0, '127.0.0.1')).url;
}, 60_000);

afterAll(() => {
  disposeModel(model);
});

const prompts = [
  'Once upon a time',
  'The little dog ran to the park and saw',
  'Lily',
  'One day, a girl named Sue went',
  'Tom had a red ball.',
  'The sun was',
  '',
  'Mom said',
];

/** Valid requests: completions and chats, with and without stop strings; each body is sent as JSON or SSE. */
const valid = prompts.flatMap((prompt, i) => [
  { path: '/v1/completions', body: { prompt, max_tokens: 12 + 5 * i, temperature: 0 } },
  {
    path: '/v1/chat/completions',
    body: {
      messages: [{ role: 'user', content: prompt || 'Hi' }],
      max_tokens: 10 + 3 * i,
      temperature: 0,
      ...(i % 2 === 0 && { stop: ['.'] }),
    },
  },
]);

const malformed: readonly { readonly body: string | Buffer; readonly status: number }[] = [
  { body: '{"prompt": "Once', status: 400 },
  { body: JSON.stringify({ prompt: 'a', n: 3 }), status: 400 },
  { body: JSON.stringify({ prompt: 'a', max_tokens: 10_000 }), status: 400 },
  { body: JSON.stringify({ prompt: 'a', temperature: -1 }), status: 400 },
  { body: JSON.stringify({ prompt: 'a '.repeat(6000) }), status: 413 },
  { body: Buffer.alloc(200_000, 120), status: 413 },
];

type Job =
  | { kind: 'json' | 'stream'; index: number }
  | { kind: 'bad'; index: number }
  | { kind: 'drop'; index: number };

/** Client c's job in round r: mostly valid requests, one in four malformed or oversize, one in eight dropped midway. */
function job(c: number, r: number): Job {
  const k = c * rounds + r;
  if (k % 4 === 1) return { kind: 'bad', index: k % malformed.length };
  if (k % 8 === 3) return { kind: 'drop', index: k % valid.length };
  return { kind: k % 2 === 0 ? 'json' : 'stream', index: k % valid.length };
}

describe('recur serve under load (real serving engine, stories260K)', () => {
  let solo: string[] = [];

  it('answers each valid request alone (the reference), matching generate() on the first', async () => {
    solo = [];
    for (const v of valid) {
      const reply = await post(base, v.path, v.body);
      expect(reply.status).toBe(200);
      solo.push(parseCompletion(reply.body).text);
    }
    const first = valid[0]!.body as { prompt: string; max_tokens: number };
    const alone = await generate(model, {
      prompt: first.prompt,
      maxNewTokens: first.max_tokens,
      temperature: 0,
      fast: true,
    });
    disposeFast(model);
    expect(solo[0]).toBe(alone.text);
  }, 60_000);

  it(`${clients} clients × ${rounds} requests: every valid one gets its solo text once, every bad one a 4xx with a reason`, async () => {
    const before = new Map(server.responses);
    const cancelledBefore = engine.stats().cancelled;
    let maxRows = 0;
    const watch = setInterval(() => (maxRows = Math.max(maxRows, engine.stats().rowsInLastStep)), 2);
    const started = performance.now();
    const outcomes = await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        const seen: { job: Job; reply?: Reply }[] = [];
        for (let r = 0; r < rounds; r++) seen.push(await runJob(job(c, r)));
        return seen;
      }),
    ).finally(() => clearInterval(watch));
    const seconds = (performance.now() - started) / 1000;
    let checked = 0;
    for (const { job: j, reply } of outcomes.flat()) {
      if (j.kind === 'drop') continue;
      if (j.kind === 'bad') {
        expect(reply!.status).toBe(malformed[j.index]!.status);
        expect(parseError(reply!.body).length).toBeGreaterThan(10);
        continue;
      }
      expect(reply!.status).toBe(200);
      const text = j.kind === 'json' ? parseCompletion(reply!.body).text : streamedText(sseData(reply!.body));
      expect(text, `${valid[j.index]!.path} ${JSON.stringify(valid[j.index]!.body)}`).toBe(solo[j.index]);
      checked++;
    }
    const total = clients * rounds;
    expect(checked).toBeGreaterThanOrEqual(total / 2);
    const answered = [...server.responses].reduce((sum, [status, n]) => sum + n - (before.get(status) ?? 0), 0);
    expect(answered).toBe(total);
    // Requests really shared batched steps, and dropped streams cancelled their engine requests.
    expect(maxRows).toBeGreaterThan(1);
    const drops = outcomes.flat().filter((o) => o.job.kind === 'drop').length;
    const dropped = (server.responses.get('499') ?? 0) - (before.get('499') ?? 0);
    expect(dropped).toBeGreaterThan(0);
    expect(engine.stats().cancelled - cancelledBefore).toBeGreaterThanOrEqual(dropped);
    process.stdout.write(
      `serve load: ${total} requests (${checked} valid checked, ${drops} dropped midway, ${dropped} seen as 499) from ${clients} clients in ${seconds.toFixed(1)} s; max ${maxRows} rows per step\n`,
    );
  }, 120_000);

  it('is healthy and idle afterwards, and frees every tensor', async () => {
    const health = await call(base, 'GET', '/health');
    expect(health.status).toBe(200);
    const again = await post(base, valid[2]!.path, valid[2]!.body);
    expect(parseCompletion(again.body).text).toBe(solo[2]);
    const metrics = (await call(base, 'GET', '/metrics')).body;
    expect(metrics).toMatch(/^recur_queue_depth 0$/m);
    expect(metrics).toMatch(/^recur_running_rows 0$/m);
    expect(metrics).toMatch(/^recur_requests_in_flight 0$/m);
    await server.shutdown();
    engine.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
  }, 60_000);
});

async function runJob(j: Job): Promise<{ job: Job; reply?: Reply }> {
  if (j.kind === 'bad') return { job: j, reply: await call(base, 'POST', '/v1/completions', malformed[j.index]!.body) };
  const v = valid[j.index]!;
  if (j.kind === 'drop') {
    await disconnectMidStream(base, v.path, { ...v.body, max_tokens: 90, stop: undefined, stream: true }, 2);
    return { job: j };
  }
  return { job: j, reply: await post(base, v.path, j.kind === 'stream' ? { ...v.body, stream: true } : v.body) };
}
