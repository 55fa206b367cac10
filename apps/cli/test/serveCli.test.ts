import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { call, post, sseData } from './serve/client.js';
import { postHead, rawRequest } from './serve/rawClient.js';
import { expectOneLineFailure, recur } from './support/recur.js';
import { parseChunk, streamedText } from './serve/replies.js';

// The built `recur serve` binary (the root `test` script builds first): --help, the --json startup
// line, and a graceful SIGTERM that lets an in-flight stream finish, refuses new requests, exits 0.

const cli = fileURLToPath(new URL('../dist/recur.js', import.meta.url));
const hf = fileURLToPath(new URL('../../../../shared/models/stories260K/hf', import.meta.url));

let child: ChildProcess | undefined;

afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
});

interface Spawned {
  readonly child: ChildProcess;
  readonly ready: { readonly url: string; readonly port: number; readonly host: string; readonly model: string };
  readonly exit: Promise<{ code: number | null; stderr: string }>;
}

/** Spawns `recur serve … --json` and waits for its startup line. */
function spawnServe(...args: string[]): Promise<Spawned> {
  return spawnServeWith({}, ...args);
}

/** spawnServe with extra environment variables. */
function spawnServeWith(env: Readonly<Record<string, string>>, ...args: string[]): Promise<Spawned> {
  const proc = spawn(process.execPath, [cli, 'serve', ...args, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  child = proc;
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    proc.on('exit', (code) => resolve({ code, stderr })),
  );
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve({ child: proc, ready: JSON.parse(line) as Spawned['ready'], exit });
    });
    void exit.then(({ code }) => reject(new Error(`recur serve exited (${code}) before it was ready: ${stderr}`)));
  });
}

/** A streaming request whose first chunk resolves `started`; `done` has the whole body. */
function streamRequest(
  base: string,
  json: unknown,
): { started: Promise<void>; done: Promise<{ status: number; body: string }> } {
  let markStarted = (): void => {};
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const done = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      `${base}/v1/completions`,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString('utf8');
          markStarted();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(json));
  });
  return { started, done };
}

describe('recur serve (the binary)', () => {
  it('--help lists the serving flags', async () => {
    const proc = spawn(process.execPath, [cli, 'serve', '--help']);
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
    expect(code).toBe(0);
    for (const flag of [
      '--host',
      '--port',
      '--max-queue',
      '--max-body-bytes',
      '--max-tokens',
      '--receive-timeout',
      '--request-timeout',
      '--api-key',
      '--insecure-no-auth',
      '--json',
    ])
      expect(out).toContain(flag);
  });

  it('binds loopback on a free port, and on SIGTERM finishes the in-flight stream, answers 503, exits 0', async () => {
    const { ready, exit, child: proc } = await spawnServe(hf, '--port', '0');
    expect(ready.host).toBe('127.0.0.1');
    expect(ready.port).toBeGreaterThan(0);
    expect(ready.url).toBe(`http://127.0.0.1:${ready.port}`);
    const warm = await post(ready.url, '/v1/completions', {
      prompt: 'Once upon a time',
      max_tokens: 8,
      temperature: 0,
    });
    expect(warm.status).toBe(200);
    const stream = streamRequest(ready.url, {
      prompt: '',
      max_tokens: 500,
      temperature: 0,
      stream: true,
      ignore_eos: true,
    });
    await stream.started;
    proc.kill('SIGTERM');
    while ((await call(ready.url, 'GET', '/health')).status !== 503) await new Promise((r) => setTimeout(r, 5));
    const refused = await post(ready.url, '/v1/completions', { prompt: 'Lily', max_tokens: 4 });
    expect(refused.status).toBe(503);
    const { status, body } = await stream.done;
    expect(status).toBe(200);
    const data = sseData(body);
    expect(streamedText(data).length).toBeGreaterThan(100);
    const last = parseChunk(data.at(-2)!);
    expect(last.usage?.completion_tokens).toBe(500);
    expect(last.choices[0]!.finish_reason).toBe('length');
    const { code, stderr } = await exit;
    expect(code).toBe(0);
    expect(stderr).toMatch(/recur serve: stopped/);
  }, 60_000);

  it('with --api-key (or RECUR_API_KEY) wants the key on /v1 routes but not on /health', async () => {
    const { ready } = await spawnServeWith({ RECUR_API_KEY: 'from-the-env' }, hf, '--port', '0');
    expect((await call(ready.url, 'GET', '/health')).status).toBe(200);
    expect((await call(ready.url, 'GET', '/v1/models')).status).toBe(401);
    expect(
      (await call(ready.url, 'GET', '/v1/models', undefined, { authorization: 'Bearer from-the-env' })).status,
    ).toBe(200);
  }, 60_000);

  it('refuses to bind a non-loopback host without an API key unless --insecure-no-auth', async () => {
    expectOneLineFailure(
      await recur('serve', hf, '--host', '0.0.0.0'),
      /--host 0\.0\.0\.0 is reachable from the network: give --api-key \(or RECUR_API_KEY\), or --insecure-no-auth/,
    );
    // With the flag the check passes (the bad port is what fails: nothing binds the network here).
    expectOneLineFailure(
      await recur('serve', hf, '--host', '0.0.0.0', '--insecure-no-auth', '--port', 'abc'),
      /--port must be an integer/,
    );
    expectOneLineFailure(await recur('serve', hf, '--api-key', ''), /--api-key must not be empty/);
  });

  it('refuses an exit rule for a plain (non-recursive) model with one line', async () => {
    expectOneLineFailure(
      await recur('serve', hf, '--exit', 'maxprob:0.5', '--port', '0'),
      /--exit needs a recursive model; .*hf.* is a plain model \(1 loop\)/,
    );
  }, 60_000);

  it('on SIGTERM answers 408 at once to a client still sending its body, and exits 0', async () => {
    const { ready, exit, child: proc } = await spawnServe(hf, '--port', '0');
    const slow = rawRequest(ready.url, `${postHead('/v1/completions', 100)}{"prompt": "a`);
    await new Promise((r) => setTimeout(r, 200));
    const t0 = performance.now();
    proc.kill('SIGTERM');
    const reply = await slow.reply;
    expect(reply.status).toBe(408);
    const { code } = await exit;
    expect(code).toBe(0);
    expect(performance.now() - t0).toBeLessThan(5000);
  }, 60_000);

  it('when --shutdown-timeout runs out, answers the cancelled stream (error event, [DONE]) and exits 1', async () => {
    const { ready, exit, child: proc } = await spawnServe(hf, '--port', '0', '--shutdown-timeout', '0');
    const stream = streamRequest(ready.url, {
      prompt: '',
      max_tokens: 500,
      temperature: 0,
      stream: true,
      ignore_eos: true,
    });
    await stream.started;
    proc.kill('SIGTERM');
    const { status, body } = await stream.done;
    expect(status).toBe(200);
    const data = sseData(body);
    expect(data.at(-1)).toBe('[DONE]');
    expect(JSON.parse(data.at(-2)!)).toMatchObject({
      error: { code: 503, message: expect.stringMatching(/shut down before this request finished/) as unknown },
    });
    const { code, stderr } = await exit;
    expect(code).toBe(1);
    expect(stderr).toMatch(/cancelling them/);
  }, 60_000);

  it('fails with one recur: line for a bad flag', async () => {
    const proc = spawn(process.execPath, [cli, 'serve', hf, '--port', 'abc']);
    let err = '';
    proc.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
    expect(code).toBe(1);
    expect(err.trim()).toBe('recur: --port must be an integer ≥ 0 and ≤ 65535, got "abc"');
  });
});
