import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Mulberry32 } from '@recur/tensor';
import { disposeModel, type LoadedModel } from '@recur/engine';
import { loadModel } from '@recur/engine/node';
import { defaultLimits } from '../src/serve/limits.js';
import { createServeServer, type ServeServer } from '../src/serve/server.js';
import { call, disconnectMidStream, post, type Reply } from './serve/client.js';
import { FakeEngine } from './serve/fakeEngine.js';
import { healthProbe, type HealthProbe } from './serve/health.js';
import { postHead, rawRequest, type RawReply } from './serve/rawClient.js';

// An HTTP fuzz of `recur serve` over loopback (the stories260K tokenizer, a scripted engine): hostile
// bodies, malformed HTTP, ~1 MB prompts, slow senders and dropped streams. Every hostile request
// gets a 4xx with an OpenAI error body — never a 5xx, a hang or a silent close — and the server
// stays healthy. /health is probed every 20 ms throughout: every probe must answer 200 and none may
// block for seconds (< 2 s, a behaviour bound that holds under parallel CI load). How fast /health
// answers while huge prompts are refused is a measurement, not a test: `node tooling/bench/serveHealth.mjs`.
// Deterministic (a seeded generator), bounded in count and time (about 10 s).

const hf = fileURLToPath(new URL('../../../../shared/models/stories260K/hf', import.meta.url));
const corpus = readFileSync(
  fileURLToPath(new URL('../../../../shared/corpora/tinystories_val/tinystories_val.txt', import.meta.url)),
  'utf8',
);
const receiveTimeoutMs = 400;
/** A /health probe that takes longer than this blocked: the event loop was stuck behind a request. */
const blockedMs = 2000;

let model: LoadedModel;
let engine: FakeEngine;
let server: ServeServer;
let base: string;
let probe: HealthProbe;
const latencies: number[] = [];

beforeAll(async () => {
  await initBackend();
  model = await loadModel(hf);
  engine = new FakeEngine('Once upon a time there was a little dog. '.repeat(4));
  server = createServeServer({
    engine,
    tokenizer: model.tokenizer,
    modelName: 'stories260K',
    limits: { ...defaultLimits, contextLength: 512, receiveTimeoutMs },
  });
  base = (await server.listen(0, '127.0.0.1')).url;
  probe = healthProbe(base);
}, 60_000);

afterAll(async () => {
  latencies.push(...(await probe.stop()));
  await server.shutdown();
  disposeModel(model);
});

/** The project's mulberry32: the same cases on every run. */
function rng(seed: number): () => number {
  const random = new Mulberry32(seed);
  return () => random.next();
}

const statusOf = (reply: Reply | RawReply): number => reply.status;

/** A 4xx whose body is {"error": {"message", "type", "param", "code"}}. */
function expectClientError(reply: Reply | RawReply, label: string): void {
  expect(statusOf(reply), `${label}: ${reply.body.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
  expect(statusOf(reply), `${label}: ${reply.body.slice(0, 200)}`).toBeLessThan(500);
  const { error } = JSON.parse(reply.body) as { error: { message: unknown; type: unknown; code: unknown } };
  expect(typeof error.message, label).toBe('string');
  expect(typeof error.type, label).toBe('string');
  expect(error.code, label).toBe(statusOf(reply));
}

const deep = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

const hostileBodies: readonly (readonly [string, string | Buffer])[] = [
  ['truncated JSON', '{"prompt": "a", "max_tokens": '],
  ['a bare string', '"hello"'],
  ['null', 'null'],
  ['a number prompt', '{"prompt": 5}'],
  ['an object prompt', '{"prompt": {"text": "a"}}'],
  ['fractional token ids', '{"prompt": [1.5, 2]}'],
  ['negative token ids', '{"prompt": [-1]}'],
  ['nested token ids', '{"prompt": [[1]]}'],
  ['messages as a string', '{"messages": "hi"}'],
  ['an empty message', '{"messages": [{}]}'],
  ['a number message content', '{"messages": [{"role": "user", "content": 5}]}'],
  ['max_tokens as a string', '{"prompt": "a", "max_tokens": "5"}'],
  ['max_tokens overflowing to Infinity', '{"prompt": "a", "max_tokens": 1e400}'],
  ['max_tokens of 1e308', '{"prompt": "a", "max_tokens": 1e308}'],
  ['max_tokens past 2^53', '{"prompt": "a", "max_tokens": 9007199254740993}'],
  ['a negative temperature', '{"prompt": "a", "temperature": -1}'],
  ['top_p of 0', '{"prompt": "a", "top_p": 0}'],
  ['a negative top_k', '{"prompt": "a", "top_k": -1}'],
  ['a number stream flag', '{"prompt": "a", "stream": 1}'],
  ['a number stop', '{"prompt": "a", "stop": [1]}'],
  ['an empty stop', '{"prompt": "a", "stop": ""}'],
  ['a number model', '{"prompt": "a", "model": 7}'],
  ['n of 3.5', '{"prompt": "a", "n": 3.5}'],
  ['arrays nested 100 000 deep', deep(100_000)],
  ['a prompt nested 10 000 deep', `{"prompt": ${deep(10_000)}}`],
  ['unbalanced brackets 200 000 deep', '['.repeat(200_000)],
  [
    'invalid UTF-8',
    Buffer.from([0x7b, 0x22, 0x70, 0x72, 0x6f, 0x6d, 0x70, 0x74, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x22, 0x7d]),
  ],
  [
    'a lone UTF-8 continuation byte',
    Buffer.concat([Buffer.from('{"prompt": "a'), Buffer.from([0x80]), Buffer.from('"}')]),
  ],
  ['a body over the limit', Buffer.alloc(2 << 20, 0x20)],
];

describe('recur serve: HTTP fuzz', () => {
  it('answers hostile bodies with a 4xx and an OpenAI error body', async () => {
    for (const path of ['/v1/completions', '/v1/chat/completions']) {
      // Completions ignore "messages" (no prompt is the empty prompt): those cases are for chat only.
      const cases = hostileBodies.filter(([name]) => path.includes('chat') || !name.includes('message'));
      const replies = await Promise.all(cases.map(([, body]) => call(base, 'POST', path, body)));
      replies.forEach((reply, i) => expectClientError(reply, `${path} ${cases[i]![0]}`));
    }
  });

  it('answers seeded random bytes and mutated requests with a 4xx', async () => {
    const random = rng(13);
    const valid = JSON.stringify({ prompt: 'Once upon a time', max_tokens: 4, temperature: 0 });
    const bodies = Array.from({ length: 60 }, (_, i) => {
      if (i % 2 === 0)
        return Buffer.from(Array.from({ length: 1 + Math.floor(random() * 300) }, () => Math.floor(random() * 256)));
      const cut = Math.floor(random() * (valid.length - 1)); // a valid request with one byte changed or cut short
      return i % 4 === 1
        ? valid.slice(0, cut)
        : `${valid.slice(0, cut)}${String.fromCharCode(Math.floor(random() * 128))}${valid.slice(cut + 1)}`;
    });
    for (let i = 0; i < bodies.length; i += 10) {
      const replies = await Promise.all(
        bodies.slice(i, i + 10).map((body) => call(base, 'POST', '/v1/completions', body)),
      );
      // A mutation can leave a valid request (a changed letter of the prompt): then it is answered 200.
      replies.forEach((reply, j) =>
        reply.status === 200
          ? expect(JSON.parse(reply.body)).toHaveProperty('choices')
          : expectClientError(reply, `body ${i + j}`),
      );
    }
  });

  it('answers malformed HTTP with a 4xx and an error body', async () => {
    const cases: readonly (readonly [string, string])[] = [
      ['not HTTP', 'HELLO\r\n\r\n'],
      ['a bad Content-Length', 'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}'],
      [
        'two Content-Lengths',
        'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
      ],
      [
        'a bad chunk size',
        'POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
      ],
      ['headers over 16 KB', `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
      ['no Content-Length and no body', 'POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
      ['a URL that is not one', 'GET http://[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
    ];
    const replies = await Promise.all(cases.map(([, bytes]) => rawRequest(base, bytes).reply));
    replies.forEach((reply, i) => expectClientError(reply, cases[i]![0]));
    const chunked =
      'POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\n{"pro\r\n16\r\nmpt": "a", "max_tokens\r\n5\r\n": 2}\r\n0\r\n\r\n';
    expect((await rawRequest(base, chunked).reply).status).toBe(200);
  });

  it('refuses four ~1 MB prompts at once with 400 while /health keeps answering', async () => {
    const prompt = corpus.repeat(2).slice(0, 1_000_000);
    const during = healthProbe(base, 10);
    const t0 = performance.now();
    const replies = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        i % 2
          ? post(base, '/v1/completions', { prompt })
          : post(base, '/v1/chat/completions', { messages: [{ role: 'user', content: prompt }] }),
      ),
    );
    const seconds = (performance.now() - t0) / 1000;
    const probes = await during.stop();
    latencies.push(...probes);
    replies.forEach((reply) => expectClientError(reply, '1 MB prompt'));
    expect(seconds).toBeLessThan(5);
    expect(probes.length).toBeGreaterThan(0);
    expect(Math.max(...probes)).toBeLessThan(blockedMs);
  });

  it('answers slow senders 408 within the receive timeout', async () => {
    const body = JSON.stringify({ prompt: 'a', max_tokens: 2 });
    const dribbled = [0, 1, 2].map(() => {
      const request = rawRequest(base, postHead('/v1/completions', body.length));
      let sent = 0;
      const drip = setInterval(
        () =>
          sent < body.length && !request.socket.destroyed ? request.socket.write(body[sent++]!) : clearInterval(drip),
        50,
      );
      return request.reply.finally(() => clearInterval(drip));
    });
    const replies = await Promise.all([
      ...dribbled,
      rawRequest(base, 'POST /v1/completions HTTP/1.1\r\nHost: x\r\n').reply,
      rawRequest(base, postHead('/v1/completions', 100)).reply,
    ]);
    for (const reply of replies) {
      expectClientError(reply, 'slow sender');
      expect(reply.status).toBe(408);
      expect(reply.ms).toBeLessThan(3 * receiveTimeoutMs + 1000);
    }
  });

  it('survives dropped streams and bodies cut off midway, then serves as before', async () => {
    const drops = await Promise.all(
      [1, 2, 3, 1, 2].map((after) =>
        disconnectMidStream(
          base,
          '/v1/completions',
          { prompt: 'a', max_tokens: 100, stream: true, ignore_eos: true },
          after,
        ),
      ),
    );
    expect(drops.every((seen) => seen >= 1)).toBe(true);
    const cut = [0, 1, 2].map(() => rawRequest(base, `${postHead('/v1/completions', 200)}{"prompt": "half of it`));
    await new Promise((r) => setTimeout(r, 50));
    for (const { socket } of cut) socket.destroy();
    await Promise.all(cut.map((c) => c.reply));
    while (engine.inFlight > 0) await new Promise((r) => setTimeout(r, 5));
    const ok = await post(base, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 8 });
    expect(ok.status).toBe(200);
    expect((await call(base, 'GET', '/health')).status).toBe(200);
  });

  it('never answered 5xx, and /health answered throughout without blocking', async () => {
    const metrics = (await call(base, 'GET', '/metrics')).body;
    expect(metrics).not.toMatch(/recur_http_responses_total\{status="5\d\d"\}/);
    latencies.push(...(await probe.stop()));
    probe = healthProbe(base);
    expect(latencies.length).toBeGreaterThan(20);
    expect(Math.max(...latencies)).toBeLessThan(blockedMs);
  });
});
