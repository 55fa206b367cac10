import { describe, expect, it } from 'vitest';
import { call } from './serve/client.js';
import { FakeEngine } from './serve/fakeEngine.js';
import { fakeServer } from './serve/harness.js';

// `recur serve --api-key`: every route but /health wants `Authorization: Bearer KEY`.

const servers = fakeServer();

const start = (apiKey?: string) => servers.start(new FakeEngine(), {}, apiKey === undefined ? {} : { apiKey });

const completion = JSON.stringify({ prompt: 'a', max_tokens: 2 });

describe('recur serve: API key', () => {
  it('answers 401 with an OpenAI error body without the right bearer key, on every route but /health', async () => {
    const base = await start('s3cret-key');
    expect((await call(base, 'GET', '/health')).status).toBe(200);
    const wrongs: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: 'Bearer s3cret-key-and-more' },
      { authorization: 's3cret-key' },
      { authorization: 'Basic s3cret-key' },
      { authorization: 'Bearer ' },
    ];
    for (const headers of wrongs) {
      for (const [method, path, body] of [
        ['GET', '/v1/models'],
        ['GET', '/metrics'],
        ['POST', '/v1/completions', completion],
        ['POST', '/v1/chat/completions', '{}'],
        ['GET', '/nothing/here'],
      ] as const) {
        const reply = await call(base, method, path, body, headers);
        expect(reply.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(reply.headers['www-authenticate']).toBe('Bearer');
        expect(JSON.parse(reply.body)).toMatchObject({
          error: {
            type: 'invalid_request_error',
            code: 401,
            message: expect.stringMatching(/Authorization: Bearer/) as unknown,
          },
        });
      }
    }
    const right = { authorization: 'Bearer s3cret-key' };
    expect((await call(base, 'GET', '/v1/models', undefined, right)).status).toBe(200);
    expect((await call(base, 'POST', '/v1/completions', completion, right)).status).toBe(200);
    expect(
      (await call(base, 'POST', '/v1/completions', completion, { authorization: 'bearer s3cret-key' })).status,
    ).toBe(200);
  });

  it('asks for no key when none is set', async () => {
    const base = await start();
    expect((await call(base, 'POST', '/v1/completions', completion)).status).toBe(200);
  });
});
