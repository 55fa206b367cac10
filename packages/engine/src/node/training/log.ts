import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lineChartSvg } from '@recur/train';
import { writeAtomic } from '../files.js';

/** One line of train.jsonl: a training step, or a held-out evaluation. */
export type LogRecord =
  | { readonly kind: 'step'; readonly step: number; readonly loss: number; readonly lr: number; readonly gradNorm: number; readonly tokens: number; readonly tokensPerSecond: number; readonly seconds: number }
  | { readonly kind: 'eval'; readonly step: number; readonly valLoss: number; readonly valPerplexity: number; readonly tokens: number };

export const LOG_FILE = 'train.jsonl';
export const CHART_FILE = 'loss.svg';

export async function appendLog(dir: string, records: readonly LogRecord[]): Promise<void> {
  if (records.length > 0) await appendFile(join(dir, LOG_FILE), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

/**
 * Redraws loss.svg from the whole log (a resumed run continues the same curve). Lines after a
 * resumed step are the ones that count: an interrupted run may have logged steps it never saved.
 */
export async function writeChart(dir: string, title: string): Promise<void> {
  const text = await readFile(join(dir, LOG_FILE), 'utf8').catch(() => '');
  const train = new Map<number, number>();
  const val = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const record = JSON.parse(line) as LogRecord;
    if (record.kind === 'step') train.set(record.step, record.loss);
    else val.set(record.step, record.valLoss);
  }
  const series = (name: string, points: Map<number, number>) => ({ name, points: [...points].sort((a, b) => a[0] - b[0]) });
  await writeAtomic(join(dir, CHART_FILE), lineChartSvg([series('train loss', train), series('held-out loss', val)], { title, yLabel: 'loss (nats/token)' }));
}
