import { type RowResult, Scheduler, type SampledToken } from '@recur/scheduler';

/** Serves two requests on a fake 3-loop model whose decode tokens exit after loop 2; returns a trace. */
export function fakeEngineLoop(): string[] {
  const scheduler = new Scheduler({ maxDepth: 3, maxRowsPerStep: 4, tokenBudgetPerStep: 8, prefillChunk: 4 });
  scheduler.submit({ id: 'a', promptLength: 6, maxNewTokens: 3, arrival: 0 });
  scheduler.submit({ id: 'b', promptLength: 2, maxNewTokens: 2, arrival: 1 });
  const trace: string[] = [];
  while (scheduler.busy) {
    const plan = scheduler.schedule();
    // A real engine runs plan.rows here as ONE batched call of the shared block (rows at mixed depths).
    const rows: RowResult[] = plan.rows.map(({ requestId, start, end, depth, kind }) => ({
      requestId, start, end, depth,
      exited: depth === 2 || (kind === 'decode' && depth === 1), // loop count reached, or an early exit
    }));
    // ...and samples a token for every exited row that samples on exit (EOS would set finished: true).
    const sampled: SampledToken[] = plan.rows
      .filter((row, i) => row.samplesOnExit && rows[i]?.exited)
      .map((row) => ({ requestId: row.requestId, finished: false }));
    const { finished } = scheduler.complete({ rows, sampled });
    const shown = plan.rows.map((r) => `${r.requestId}[${r.start},${r.end})@${r.depth}`).join(' ');
    trace.push(`step ${plan.step}: ${shown}${finished.map((f) => `  → ${f.requestId} done`).join('')}`);
  }
  return trace;
}
