import type { ServeCallbacks, ServeRequest, ServeResult, ServeStats, ServingEngine } from '@recur/engine';
import type { ServeTokenizer } from '../../src/serve/generation.js';

/** One character per token: id = char code + 2; 1 is BOS (dropped by decode). Its vocabulary lists ASCII. */
export const charTokenizer: ServeTokenizer = {
  vocabSize: 130,
  tokenToPiece: (id) => (id > 1 && id < 130 ? String.fromCodePoint(id - 2) : undefined),
  encode: (text, options) => [...(options?.addBos ? [1] : []), ...[...text].map((c) => c.codePointAt(0)! + 2)],
  decode: (ids) => String.fromCodePoint(...ids.filter((id) => id > 1).map((id) => id - 2)),
};

/**
 * A scripted ServingEngine: every request answers `reply` one character per tick (tokens at depth
 * 1, 2, 1, 2, …), honours max tokens and abort, and can be paused to hold requests in flight.
 */
export class FakeEngine implements ServingEngine {
  readonly maxDepth = 2;
  readonly requests: ServeRequest[] = [];
  cancelled = 0;
  finished = 0;
  private running = 0;
  private draining = false;
  private paused = false;
  private readonly resumers: (() => void)[] = [];
  private readonly drainers: (() => void)[] = [];
  private generated = 0;

  /** `tickMs`: time per token (default: one event-loop turn). */
  constructor(
    private readonly reply = 'Hello world. Bye now.',
    private readonly tickMs = 0,
  ) {}

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const go of this.resumers.splice(0)) go();
  }

  get inFlight(): number {
    return this.running;
  }

  async submit(request: ServeRequest, callbacks: ServeCallbacks = {}): Promise<ServeResult> {
    if (this.draining) throw new Error('serving engine is draining; no new requests');
    if (request.promptIds.length + request.maxNewTokens > 512)
      throw new RangeError('prompt + maxNewTokens exceeds the context');
    this.requests.push(request);
    this.running++;
    const ids: number[] = [];
    const depths: number[] = [];
    const script = charTokenizer.encode(this.reply);
    let reason: ServeResult['finishReason'] = 'length';
    try {
      while (ids.length < request.maxNewTokens) {
        await this.tick();
        if (callbacks.signal?.aborted) {
          reason = 'cancelled';
          break;
        }
        if (ids.length === script.length) {
          reason = 'stop';
          break;
        }
        const id = script[ids.length]!;
        const depth = (ids.length % 2) + 1;
        ids.push(id);
        depths.push(depth);
        this.generated++;
        callbacks.onToken?.(id, depth);
      }
    } finally {
      this.running--;
      if (reason === 'cancelled') this.cancelled++;
      else this.finished++;
      if (this.running === 0) for (const done of this.drainers.splice(0)) done();
    }
    return { ids, depths, finishReason: reason, firstTokenMs: 1, totalMs: 2 };
  }

  stats(): ServeStats {
    return {
      waiting: 0,
      running: this.running,
      rowsInLastStep: this.running,
      stepsRun: this.generated,
      generatedTokens: this.generated,
      tokensPerSecond: 12.5,
      depthHistogram: [3, 4],
      finished: this.finished,
      cancelled: this.cancelled,
    };
  }

  drain(): Promise<void> {
    this.draining = true;
    return this.running === 0 ? Promise.resolve() : new Promise((resolve) => this.drainers.push(resolve));
  }

  dispose(): void {}

  private tick(): Promise<void> {
    return new Promise((resolve) => {
      const next = (): unknown => (this.tickMs > 0 ? setTimeout(resolve, this.tickMs) : setImmediate(resolve));
      if (this.paused) this.resumers.push(next);
      else next();
    });
  }
}
