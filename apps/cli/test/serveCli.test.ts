import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { call, post, sseData } from './serve/client.js';
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
  const proc = spawn(process.execPath, [cli, 'serve', ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child = proc;
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve) => proc.on('exit', (code) => resolve({ code, stderr })));
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
function streamRequest(base: string, json: unknown): { started: Promise<void>; done: Promise<{ status: number; body: string }> } {
  let markStarted = (): void => {};
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const done = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(`${base}/v1/completions`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString('utf8');
        markStarted();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
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
    for (const flag of ['--host', '--port', '--max-queue', '--max-body-bytes', '--max-tokens', '--json']) expect(out).toContain(flag);
  });

  it('binds loopback on a free port, and on SIGTERM finishes the in-flight stream, answers 503, exits 0', async () => {
    const { ready, exit, child: proc } = await spawnServe(hf, '--port', '0');
    expect(ready.host).toBe('127.0.0.1');
    expect(ready.port).toBeGreaterThan(0);
    expect(ready.url).toBe(`http://127.0.0.1:${ready.port}`);
    const warm = await post(ready.url, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 8, temperature: 0 });
    expect(warm.status).toBe(200);
    const stream = streamRequest(ready.url, { prompt: '', max_tokens: 500, temperature: 0, stream: true, ignore_eos: true });
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

  it('fails with one recur: line for a bad flag', async () => {
    const proc = spawn(process.execPath, [cli, 'serve', hf, '--port', 'abc']);
    let err = '';
    proc.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
    expect(code).toBe(1);
    expect(err.trim()).toBe('recur: --port must be an integer ≥ 0 and ≤ 65535, got "abc"');
  });
});
