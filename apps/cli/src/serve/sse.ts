import type { ServerResponse } from 'node:http';

/**
 * Server-sent events as OpenAI streams them: `data: {json}\n\n` per chunk, then `data: [DONE]\n\n`.
 * Headers go out with the first chunk, so a request refused before any token still gets a plain 4xx.
 */
export class SseWriter {
  private started = false;

  constructor(private readonly res: ServerResponse) {}

  get headersSent(): boolean {
    return this.started;
  }

  send(chunk: unknown): void {
    if (this.res.destroyed || this.res.writableEnded) return;
    if (!this.started) {
      this.started = true;
      this.res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      this.res.flushHeaders();
    }
    this.res.write(`data: ${JSON.stringify(chunk)}\n\n`);
  }

  /** Ends the stream with the `[DONE]` sentinel. */
  done(): void {
    if (this.res.destroyed || this.res.writableEnded) return;
    this.res.end('data: [DONE]\n\n');
  }
}
