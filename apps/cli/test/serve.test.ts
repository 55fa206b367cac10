import { describe, expect, it } from 'vitest';
import { StopMatcher } from '../src/serve/stopMatcher.js';
import { formatChat } from '../src/serve/chatTemplate.js';
import { call, disconnectMidStream, post, sseData } from './serve/client.js';
import { charTokenizer, FakeEngine } from './serve/fakeEngine.js';
import { fakeServer, until } from './serve/harness.js';
import { parseChunk, parseCompletion, parseError, streamedText } from './serve/replies.js';

// The HTTP layer of `recur serve` over a scripted engine (one character per token): routing,
// validation, SSE, limits, cancellation, metrics and graceful shutdown. serveLoad.test.ts runs the real engine.

const servers = fakeServer();

const start = servers.start;

describe('recur serve: OpenAI-compatible routes', () => {
  it('answers a completion with text, usage and per-token depths', async () => {
    const base = await start(new FakeEngine());
    const reply = await post(base, '/v1/completions', { prompt: 'Hi', max_tokens: 5, temperature: 0 });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body) as unknown).toMatchObject({
      object: 'text_completion',
      model: 'fake',
      choices: [{ index: 0, text: 'Hello', logprobs: null, finish_reason: 'length' }],
    });
    const body = parseCompletion(reply.body);
    expect(body.usage).toEqual({ prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 });
    expect(body.depths).toEqual([1, 2, 1, 2, 1]);
  });

  it('formats chat messages as "role: content" lines ending in "assistant:"', async () => {
    const engine = new FakeEngine();
    const base = await start(engine);
    const reply = await post(base, '/v1/chat/completions', {
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
      ],
      max_tokens: 3,
    });
    expect(JSON.parse(reply.body) as unknown).toMatchObject({
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hel' }, finish_reason: 'length' }],
    });
    expect(charTokenizer.decode(engine.requests[0]!.promptIds)).toBe('system: Be brief.\nuser: Hi\nassistant:');
    expect(formatChat([{ role: 'user', content: 'x' }])).toBe('user: x\nassistant:');
  });

  it('streams SSE chunks then [DONE]; the text joins to the whole answer', async () => {
    const base = await start(new FakeEngine());
    const reply = await post(base, '/v1/chat/completions', {
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      max_tokens: 50,
    });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^text\/event-stream/);
    const data = sseData(reply.body);
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => parseChunk(d));
    expect(chunks[0]!.choices[0]!.delta?.role).toBe('assistant');
    expect(streamedText(data)).toBe('Hello world. Bye now.');
    const last = chunks.at(-1)!;
    expect(last).toMatchObject({
      object: 'chat.completion.chunk',
      choices: [{ delta: {}, finish_reason: 'stop' }],
      usage: { completion_tokens: 21 },
    });
    expect(last.recur?.depths).toHaveLength(21);
  });

  it('cuts at a stop string (never streaming part of it) and cancels the engine request', async () => {
    const engine = new FakeEngine();
    const base = await start(engine);
    const plain = parseCompletion(
      (await post(base, '/v1/completions', { prompt: '', max_tokens: 50, stop: ['d. B', 'zz'] })).body,
    );
    expect(plain).toMatchObject({ text: 'Hello worl', finishReason: 'stop' });
    const streamed = sseData(
      (await post(base, '/v1/completions', { prompt: '', max_tokens: 50, stop: 'o w', stream: true })).body,
    );
    expect(streamedText(streamed)).toBe('Hell');
    await until(() => engine.inFlight === 0);
    expect(engine.cancelled).toBe(2);
  });

  it('StopMatcher holds back a possible stop-string prefix and releases it when it is not one', () => {
    const m = new StopMatcher(['END']);
    expect(m.push('abE')).toEqual({ text: 'ab', stopped: false });
    expect(m.push('N')).toEqual({ text: '', stopped: false });
    expect(m.push('x')).toEqual({ text: 'ENx', stopped: false });
    expect(m.push('yEND z')).toEqual({ text: 'y', stopped: true });
    expect(m.flush()).toBe('');
  });

  it.each([
    ['not JSON', '{"prompt": ', 400, /not valid JSON/],
    ['an empty body', '', 400, /empty/],
    ['a JSON array', '[1, 2]', 400, /JSON object/],
    ['n = 2', '{"prompt": "a", "n": 2}', 400, /"n" must be 1/],
    ['a negative max_tokens', '{"prompt": "a", "max_tokens": -1}', 400, /"max_tokens" must be an integer ≥ 1/],
    ['max_tokens over the limit', '{"prompt": "a", "max_tokens": 100000}', 400, /over this server's limit of 512/],
    [
      'prompt + max_tokens over the context',
      `{"prompt": "${'a'.repeat(500)}", "max_tokens": 500}`,
      400,
      /over the model's context of 512/,
    ],
    ['a temperature of 3', '{"prompt": "a", "temperature": 3}', 400, /"temperature" must be a number ≥ 0 and ≤ 2/],
    ['a string top_p', '{"prompt": "a", "top_p": "high"}', 400, /"top_p"/],
    [
      'a top_p of 0 (recur generate --top-p refuses it too)',
      '{"prompt": "a", "top_p": 0}',
      400,
      /"top_p" must be a number > 0 and ≤ 1, got 0/,
    ],
    [
      "a negative seed (seeds are mulberry32's [0, 2^32 − 1])",
      '{"prompt": "a", "seed": -5}',
      400,
      /"seed" must be an integer ≥ 0 and ≤ 4294967295, got -5/,
    ],
    ['a stream flag that is not boolean', '{"prompt": "a", "stream": "yes"}', 400, /"stream" must be true or false/],
    ['five stop strings', '{"prompt": "a", "stop": ["a","b","c","d","e"]}', 400, /"stop"/],
    ['a batch of prompts', '{"prompt": ["a", "b"]}', 400, /one prompt per request/],
    ['logprobs', '{"prompt": "a", "logprobs": 3}', 400, /not supported/],
  ])('refuses %s with a 4xx and a reason', async (_name, body, status, reason) => {
    const base = await start(new FakeEngine());
    const reply = await call(base, 'POST', '/v1/completions', body);
    expect(reply.status).toBe(status);
    expect(parseError(reply.body)).toMatch(reason);
  });

  it('refuses chat requests without messages or with a bad role', async () => {
    const base = await start(new FakeEngine());
    expect((await post(base, '/v1/chat/completions', { prompt: 'a' })).status).toBe(400);
    const bad = await post(base, '/v1/chat/completions', { messages: [{ role: 'wizard', content: 'x' }] });
    expect(JSON.parse(bad.body) as unknown).toMatchObject({
      error: { param: 'messages', message: expect.stringMatching(/role must be one of/) as unknown },
    });
  });

  it('refuses oversize bodies with 413, unknown routes with 404 and wrong methods with 405', async () => {
    const base = await start(new FakeEngine(), { maxBodyBytes: 1000 });
    const big = await call(base, 'POST', '/v1/completions', JSON.stringify({ prompt: 'x'.repeat(5000) }));
    expect(big.status).toBe(413);
    expect(parseError(big.body)).toMatch(/limit of 1000 bytes/);
    const huge = await call(base, 'POST', '/v1/completions', Buffer.alloc(50_000, 32));
    expect(huge.status).toBe(413);
    expect((await call(base, 'GET', '/v2/nothing')).status).toBe(404);
    const wrong = await call(base, 'GET', '/v1/completions');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('POST');
    expect((await call(base, 'GET', '/health')).status).toBe(200);
  });

  it('answers 429 with Retry-After when the queue is full', async () => {
    const engine = new FakeEngine();
    const base = await start(engine, { maxQueue: 2 });
    engine.pause();
    const held = [
      post(base, '/v1/completions', { prompt: 'a', max_tokens: 3 }),
      post(base, '/v1/completions', { prompt: 'b', max_tokens: 3 }),
    ];
    await until(() => engine.inFlight === 2);
    const refused = await post(base, '/v1/completions', { prompt: 'c', max_tokens: 3 });
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    engine.resume();
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
    expect((await post(base, '/v1/completions', { prompt: 'c', max_tokens: 3 })).status).toBe(200);
  });

  it('cancels the engine request when a client disconnects mid-stream', async () => {
    const engine = new FakeEngine('x'.repeat(400));
    const base = await start(engine);
    await disconnectMidStream(base, '/v1/completions', { prompt: 'a', max_tokens: 400, stream: true }, 3);
    await until(() => engine.inFlight === 0);
    expect(engine.cancelled).toBe(1);
    expect(engine.stats().generatedTokens).toBeLessThan(400);
    const metrics = (await call(base, 'GET', '/metrics')).body;
    expect(metrics).toMatch(/recur_http_responses_total\{status="499"\} 1/);
  });

  it('reports Prometheus metrics: queue, rows, tokens/s, depth histogram, responses by status', async () => {
    const base = await start(new FakeEngine());
    await post(base, '/v1/completions', { prompt: 'a', max_tokens: 2 });
    await call(base, 'POST', '/v1/completions', 'nope');
    const reply = await call(base, 'GET', '/metrics');
    expect(reply.headers['content-type']).toMatch(/^text\/plain; version=0.0.4/);
    for (const line of [
      'recur_queue_depth 0',
      'recur_running_rows 0',
      'recur_tokens_per_second 12.500',
      'recur_token_depth_bucket{le="1"} 3',
      'recur_token_depth_bucket{le="2"} 7',
      'recur_token_depth_bucket{le="+Inf"} 7',
      'recur_token_depth_sum 11',
      'recur_http_responses_total{status="200"} 1',
      'recur_http_responses_total{status="400"} 1',
    ]) {
      expect(reply.body.split('\n')).toContain(line);
    }
  });

  it('on shutdown finishes in-flight requests, answers new ones 503, then closes', async () => {
    const engine = new FakeEngine();
    const base = await start(engine);
    engine.pause();
    const inFlight = post(base, '/v1/completions', { prompt: 'a', max_tokens: 5, stream: true });
    await until(() => engine.inFlight === 1);
    const closing = servers.current().shutdown();
    const refused = await post(base, '/v1/completions', { prompt: 'b', max_tokens: 5 });
    expect(refused.status).toBe(503);
    expect((await call(base, 'GET', '/health')).status).toBe(503);
    engine.resume();
    const done = await inFlight;
    expect(done.status).toBe(200);
    expect(sseData(done.body).at(-1)).toBe('[DONE]');
    await closing;
    await expect(call(base, 'GET', '/health')).rejects.toThrow(/ECONNREFUSED/);
  });
});
