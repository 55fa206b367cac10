import { describe, expect, it } from 'vitest';
import { call, post, sseData } from './serve/client.js';
import { FakeEngine } from './serve/fakeEngine.js';
import { fakeServer, until } from './serve/harness.js';
import { postHead, rawRequest } from './serve/rawClient.js';
import { parseError } from './serve/replies.js';

// Clients that never finish sending, requests that run too long, and shutdown: each gets an HTTP
// answer with an OpenAI error body (never a silent drop), and shutdown does not wait on them.

const servers = fakeServer();

const start = servers.start;

const errorOf = (body: string): { message: string; type: string; code: number } =>
  (JSON.parse(body) as { error: { message: string; type: string; code: number } }).error;

describe('recur serve: timeouts and shutdown', () => {
  it('answers 408 to a client that sends only part of its body within the receive timeout', async () => {
    const base = await start(new FakeEngine(), { receiveTimeoutMs: 300 });
    const slow = rawRequest(base, `${postHead('/v1/completions', 100)}{"prompt": "a`);
    const reply = await slow.reply;
    expect(reply.status).toBe(408);
    expect(errorOf(reply.body)).toMatchObject({
      code: 408,
      message: expect.stringMatching(/did not send its whole request within 0.3 s/) as unknown,
    });
    expect(reply.ms).toBeLessThan(2000);
    expect((await call(base, 'GET', '/health')).status).toBe(200);
  });

  it('answers 408 to a client that never finishes its headers', async () => {
    const base = await start(new FakeEngine(), { receiveTimeoutMs: 300 });
    const reply = await rawRequest(base, 'POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n').reply;
    expect(reply.status).toBe(408);
    expect(errorOf(reply.body).message).toMatch(/whole request within 0.3 s/);
    expect(reply.ms).toBeLessThan(2000);
    expect((await call(base, 'GET', '/metrics')).body).toMatch(/recur_http_responses_total\{status="408"\} 1/);
  });

  it('answers 400 with an error body to a request that is not HTTP', async () => {
    const base = await start(new FakeEngine());
    const reply = await rawRequest(base, 'HELLO THERE\r\n\r\n').reply;
    expect(reply.status).toBe(400);
    expect(errorOf(reply.body).type).toBe('invalid_request_error');
  });

  it('on shutdown answers 408 at once to a client still sending its body, and closes without waiting for it', async () => {
    const base = await start(new FakeEngine());
    const slow = rawRequest(base, `${postHead('/v1/completions', 100)}{"prompt": "a`);
    await new Promise((r) => setTimeout(r, 100)); // the route is reading the body
    const t0 = performance.now();
    await servers.current().shutdown();
    expect(performance.now() - t0).toBeLessThan(1000);
    const reply = await slow.reply;
    expect(reply.status).toBe(408);
    expect(errorOf(reply.body).message).toMatch(/shutting down/);
  });

  it('cuts a request that runs past the request timeout: 504 for a plain request, an error event then [DONE] in a stream', async () => {
    const engine = new FakeEngine('x'.repeat(400), 20);
    const base = await start(engine, { requestTimeoutMs: 200 });
    const plain = await post(base, '/v1/completions', { prompt: 'a', max_tokens: 50 });
    expect(plain.status).toBe(504);
    expect(parseError(plain.body)).toMatch(/request timeout of 0.2 s/);
    const streamed = await post(base, '/v1/completions', { prompt: 'a', max_tokens: 50, stream: true });
    expect(streamed.status).toBe(200);
    const data = sseData(streamed.body);
    expect(data.at(-1)).toBe('[DONE]');
    expect(JSON.parse(data.at(-2)!)).toMatchObject({ error: { type: 'server_error', code: 504 } });
    await until(() => engine.inFlight === 0);
    expect(engine.cancelled).toBe(2);
  });

  it('when shutdown cancels in-flight requests, answers them 503 (JSON, or an error event then [DONE])', async () => {
    const engine = new FakeEngine('x'.repeat(400));
    const base = await start(engine);
    const plain = post(base, '/v1/completions', { prompt: 'a', max_tokens: 300 });
    const streamed = post(base, '/v1/completions', { prompt: 'a', max_tokens: 300, stream: true });
    await until(() => engine.inFlight === 2);
    engine.pause();
    const closing = servers.current().shutdown();
    await servers.current().cancelInFlight();
    engine.resume();
    const [p, s] = await Promise.all([plain, streamed]);
    expect(p.status).toBe(503);
    expect(parseError(p.body)).toMatch(/shut down before this request finished/);
    const data = sseData(s.body);
    expect(data.at(-1)).toBe('[DONE]');
    expect(JSON.parse(data.at(-2)!)).toMatchObject({ error: { code: 503 } });
    await closing;
  });
});
