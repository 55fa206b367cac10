import type { ServeStats } from '@recur/engine';

export interface MetricsInput {
  readonly stats: ServeStats;
  readonly maxDepth: number;
  /** Requests admitted by the server (in the engine now). */
  readonly inFlight: number;
  readonly queueCapacity: number;
  /** Answered requests by HTTP status ("499": the client closed the connection first). */
  readonly responses: ReadonlyMap<string, number>;
  readonly draining: boolean;
  /** Names by adapter id (0: the base model), labelling the per-adapter counters. */
  readonly adapters?: readonly string[];
}

/** GET /metrics in the Prometheus text exposition format (version 0.0.4). */
export function metricsText(m: MetricsInput): string {
  const { stats } = m;
  const lines = [
    ...metric('recur_queue_depth', 'gauge', 'requests waiting in the engine for their first step', stats.waiting),
    ...metric('recur_running_rows', 'gauge', 'requests running in the engine (holding KV)', stats.running),
    ...metric('recur_rows_last_step', 'gauge', 'rows in the last batched step', stats.rowsInLastStep),
    ...metric('recur_requests_in_flight', 'gauge', 'requests admitted by the server and not yet answered', m.inFlight),
    ...metric('recur_queue_capacity', 'gauge', 'requests admitted at once before 429', m.queueCapacity),
    ...metric(
      'recur_tokens_per_second',
      'gauge',
      'generated tokens per second over a recent window',
      stats.tokensPerSecond,
    ),
    ...metric('recur_generated_tokens_total', 'counter', 'tokens generated', stats.generatedTokens),
    ...metric('recur_steps_total', 'counter', 'batched engine steps run', stats.stepsRun),
    ...metric(
      'recur_engine_finished_total',
      'counter',
      'engine requests finished (length or end of sequence)',
      stats.finished,
    ),
    ...metric(
      'recur_engine_cancelled_total',
      'counter',
      'engine requests cancelled (client gone or stop string)',
      stats.cancelled,
    ),
    ...metric('recur_draining', 'gauge', '1 while shutting down (new requests get 503)', m.draining ? 1 : 0),
    ...depthHistogram(stats.depthHistogram, m.maxDepth),
    ...responses(m.responses),
    ...perAdapter(m.stats.perAdapter ?? [], m.adapters ?? []),
  ];
  return `${lines.join('\n')}\n`;
}

function metric(name: string, type: 'gauge' | 'counter', help: string, value: number): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${format(value)}`];
}

/** Loops run per generated token as a cumulative histogram over depths 1..N. */
function depthHistogram(counts: readonly number[], maxDepth: number): string[] {
  const name = 'recur_token_depth';
  const lines = [`# HELP ${name} loops run by each generated token`, `# TYPE ${name} histogram`];
  let cumulative = 0;
  let sum = 0;
  for (let d = 1; d <= Math.max(maxDepth, counts.length); d++) {
    const n = counts[d - 1] ?? 0;
    cumulative += n;
    sum += n * d;
    lines.push(`${name}_bucket{le="${d}"} ${cumulative}`);
  }
  lines.push(`${name}_bucket{le="+Inf"} ${cumulative}`, `${name}_sum ${sum}`, `${name}_count ${cumulative}`);
  return lines;
}

/** Generated tokens and finished requests per served adapter ("model" label: the name a request picks it by). */
function perAdapter(
  counts: readonly { readonly generatedTokens: number; readonly finished: number }[],
  names: readonly string[],
): string[] {
  if (counts.length < 2) return []; // no adapters: the totals above say it all
  const label = (i: number) => JSON.stringify(names[i] ?? String(i));
  const tokens = 'recur_adapter_generated_tokens_total';
  const finished = 'recur_adapter_finished_total';
  return [
    `# HELP ${tokens} tokens generated, by adapter (model)`,
    `# TYPE ${tokens} counter`,
    ...counts.map((c, i) => `${tokens}{model=${label(i)}} ${c.generatedTokens}`),
    `# HELP ${finished} engine requests finished, by adapter (model)`,
    `# TYPE ${finished} counter`,
    ...counts.map((c, i) => `${finished}{model=${label(i)}} ${c.finished}`),
  ];
}

function responses(byStatus: ReadonlyMap<string, number>): string[] {
  const name = 'recur_http_responses_total';
  const lines = [`# HELP ${name} HTTP requests answered, by status code`, `# TYPE ${name} counter`];
  for (const [status, n] of [...byStatus].sort(([a], [b]) => a.localeCompare(b)))
    lines.push(`${name}{status="${status}"} ${n}`);
  return lines;
}

function format(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(3);
}
