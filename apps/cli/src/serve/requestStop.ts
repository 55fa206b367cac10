import type { ServerResponse } from 'node:http';
import { ClientGoneError } from './body.js';
import { HttpError } from './httpError.js';
import type { ServeLimits } from './limits.js';

export interface StopSources {
  readonly limits: ServeLimits;
  /** Aborted when the server cancels the requests still generating. */
  readonly cancelled: AbortSignal;
}

/**
 * Why a request's generation stops early: the client went away, it ran past the request timeout,
 * or the server cancelled it while shutting down. `check()` turns the reason into its answer.
 */
export class RequestStop {
  private readonly controller = new AbortController();
  private reason: 'gone' | 'timeout' | 'cancelled' | undefined;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly onClose = (): void => {
    if (!this.res.writableFinished) this.abort('gone');
  };
  private readonly onCancel = (): void => this.abort('cancelled');

  constructor(
    private readonly ctx: StopSources,
    private readonly res: ServerResponse,
  ) {
    res.on('close', this.onClose);
    ctx.cancelled.addEventListener('abort', this.onCancel, { once: true });
    if (ctx.cancelled.aborted) this.abort('cancelled');
    const ms = ctx.limits.requestTimeoutMs;
    if (ms > 0) this.timer = setTimeout(() => this.abort('timeout'), ms);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Throws the answer for an early stop (ClientGoneError: nobody to answer). */
  check(): void {
    if (this.reason === 'gone') throw new ClientGoneError('the client closed the connection');
    if (this.reason === 'timeout')
      throw new HttpError(
        504,
        `the request ran past this server's request timeout of ${this.ctx.limits.requestTimeoutMs / 1000} s and was cancelled`,
      );
    if (this.reason === 'cancelled')
      throw new HttpError(
        503,
        'the server shut down before this request finished; it was cancelled',
        'server_error',
        null,
        { connection: 'close' },
      );
  }

  release(): void {
    clearTimeout(this.timer);
    this.res.off('close', this.onClose);
    this.ctx.cancelled.removeEventListener('abort', this.onCancel);
  }

  private abort(reason: 'gone' | 'timeout' | 'cancelled'): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.controller.abort();
  }
}
