import { afterEach } from 'vitest';
import { defaultLimits, type ServeLimits } from '../../src/serve/limits.js';
import { createServeServer, type ServeServer, type ServeServerOptions } from '../../src/serve/server.js';
import { charTokenizer, FakeEngine } from './fakeEngine.js';

/**
 * The HTTP layer over a scripted engine, one server per test: `start` listens on a free loopback
 * port and returns its URL; the server is shut down after each test of the calling file.
 */
export function fakeServer(): FakeServer {
  let server: ServeServer | undefined;
  afterEach(async () => {
    await server?.shutdown(); // a second shutdown of a closed server resolves at once
    server = undefined;
  });
  return {
    start: async (engine = new FakeEngine(), limits = {}, extra = {}) => {
      server = createServeServer({
        engine,
        tokenizer: charTokenizer,
        modelName: 'fake',
        limits: { ...defaultLimits, contextLength: 512, ...limits },
        ...extra,
      });
      return (await server.listen(0, '127.0.0.1')).url;
    },
    current: () => {
      if (!server) throw new Error('no server started in this test');
      return server;
    },
  };
}

export interface FakeServer {
  start(
    engine?: FakeEngine,
    limits?: Partial<ServeLimits>,
    extra?: Pick<ServeServerOptions, 'apiKey'>,
  ): Promise<string>;
  /** The server of the running test. */
  current(): ServeServer;
}

/** Waits (polling every 2 ms) until `check` holds. */
export async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 2));
}
