import { request } from 'node:http';

export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/** One HTTP request over loopback with node:http (no keep-alive), the whole reply read. */
export function call(
  base: string,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      { method, agent: false, headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export const post = (base: string, path: string, json: unknown): Promise<Reply> =>
  call(base, 'POST', path, JSON.stringify(json));

/** The `data:` payloads of an SSE body, `[DONE]` included. */
export function sseData(body: string): string[] {
  return body
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block) => block.slice('data: '.length));
}

/**
 * Starts a streaming request and destroys the connection after `afterChunks` SSE chunks arrived;
 * resolves with the chunks seen.
 */
export function disconnectMidStream(base: string, path: string, json: unknown, afterChunks: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        let seen = 0;
        res.on('data', (c: Buffer) => {
          seen += c.toString('utf8').split('data: ').length - 1;
          if (seen >= afterChunks) {
            req.destroy();
            resolve(seen);
          }
        });
        res.on('end', () => resolve(seen));
        res.on('error', () => resolve(seen));
      },
    );
    req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
    req.end(JSON.stringify(json));
  });
}
