/** Requests answered and tokens generated per domain of a model with per-domain ends (`--ends per-domain`). */
export class DomainCounters {
  private readonly counts = new Map<string, { requests: number; tokens: number }>();

  /** `domain`: the request's "domain"; absent, the model's active ends ran it (labelled DEFAULT_DOMAIN_LABEL). */
  record(domain: string | undefined, completionTokens: number): void {
    const key = domain ?? DEFAULT_DOMAIN_LABEL;
    const entry = this.counts.get(key) ?? { requests: 0, tokens: 0 };
    entry.requests += 1;
    entry.tokens += completionTokens;
    this.counts.set(key, entry);
  }

  /** Every domain of `names` (0 until one runs) and the default, in that order. */
  snapshot(names: readonly string[]): { domain: string; requests: number; tokens: number }[] {
    return [...names, DEFAULT_DOMAIN_LABEL].map((domain) => ({
      domain,
      ...(this.counts.get(domain) ?? { requests: 0, tokens: 0 }),
    }));
  }
}

/** The label of requests that name no domain (the model's active ends run them). */
export const DEFAULT_DOMAIN_LABEL = '(default)';
