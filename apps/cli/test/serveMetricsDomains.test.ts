import { describe, expect, it } from 'vitest';
import type { ServeStats } from '@recur/engine';
import { DomainCounters } from '../src/serve/domainCounters.js';
import { metricsText, type MetricsInput } from '../src/serve/metrics.js';

// GET /metrics on a model with per-domain ends (`--ends per-domain:NAMES`): requests and generated tokens by domain.

const stats: ServeStats = {
  waiting: 0,
  running: 0,
  rowsInLastStep: 0,
  stepsRun: 3,
  generatedTokens: 12,
  tokensPerSecond: 0,
  depthHistogram: [],
  finished: 3,
  cancelled: 0,
};
const input: MetricsInput = {
  stats,
  maxDepth: 3,
  inFlight: 0,
  queueCapacity: 8,
  responses: new Map(),
  draining: false,
};

describe('per-domain serve metrics', () => {
  it('counts requests and tokens per named domain, requests naming none under "(default)", unused domains at 0', () => {
    const counters = new DomainCounters();
    counters.record('verse', 5);
    counters.record('verse', 4);
    counters.record(undefined, 3);
    expect(counters.snapshot(['stories', 'verse'])).toEqual([
      { domain: 'stories', requests: 0, tokens: 0 },
      { domain: 'verse', requests: 2, tokens: 9 },
      { domain: '(default)', requests: 1, tokens: 3 },
    ]);
    const text = metricsText({ ...input, domains: counters.snapshot(['stories', 'verse']) });
    expect(text).toContain('# TYPE recur_domain_requests_total counter');
    expect(text).toContain('recur_domain_requests_total{domain="verse"} 2');
    expect(text).toContain('recur_domain_requests_total{domain="stories"} 0');
    expect(text).toContain('recur_domain_requests_total{domain="(default)"} 1');
    expect(text).toContain('recur_domain_generated_tokens_total{domain="verse"} 9');
    expect(text).toContain('recur_domain_generated_tokens_total{domain="(default)"} 3');
  });

  it('a model without domains exposes no per-domain series', () => {
    expect(metricsText(input)).not.toMatch(/recur_domain_/);
    expect(metricsText({ ...input, domains: [] })).not.toMatch(/recur_domain_/);
  });
});
