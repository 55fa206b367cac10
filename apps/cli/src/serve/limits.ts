/** What one `recur serve` accepts: each limit is answered with a 4xx naming it. */
export interface ServeLimits {
  /** Request bodies over this many bytes get 413. */
  readonly maxBodyBytes: number;
  /** Requests admitted at once (waiting + running in the engine); more get 429 with Retry-After. */
  readonly maxQueue: number;
  /** `max_tokens` above this gets 400. */
  readonly maxTokens: number;
  /** `max_tokens` when the request names none. */
  readonly defaultMaxTokens: number;
  /** Prompt tokens (BOS included) above this get 400. */
  readonly maxPromptTokens: number;
  /** Positions the model holds: prompt + max_tokens above this gets 400. */
  readonly contextLength: number;
  /** Seconds a client is told to wait after a 429. */
  readonly retryAfterSeconds: number;
  /** A client has this long to send its headers, and again its body; 408 after. */
  readonly receiveTimeoutMs: number;
  /** A request still generating this long after its body arrived is cancelled with 504 (0: never). */
  readonly requestTimeoutMs: number;
}

export const defaultLimits: Omit<ServeLimits, 'contextLength'> = {
  maxBodyBytes: 1 << 20,
  maxQueue: 64,
  maxTokens: 512,
  defaultMaxTokens: 16,
  maxPromptTokens: 4096,
  retryAfterSeconds: 1,
  // Ample for a 1 MB body on a slow link; a client silent for longer is holding a connection for nothing.
  receiveTimeoutMs: 10_000,
  // Hundreds of tokens of a large model on CPU; past that a client is better told than kept waiting.
  requestTimeoutMs: 300_000,
};

/** Admission control: a counter of requests inside the engine, bounded by `maxQueue`. */
export class AdmissionGate {
  private admitted = 0;

  constructor(private readonly capacity: number) {}

  /** Takes a slot; false when full. */
  tryEnter(): boolean {
    if (this.admitted >= this.capacity) return false;
    this.admitted++;
    return true;
  }

  leave(): void {
    this.admitted = Math.max(0, this.admitted - 1);
  }

  get inFlight(): number {
    return this.admitted;
  }
}
