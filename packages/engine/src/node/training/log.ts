import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lineChartSvg } from '@recur/train';
import { writeAtomic } from '../files.js';
import { TrainRunError } from './errors.js';

/** One line of train.jsonl: a training step, or a held-out evaluation. */
export type LogRecord =
  | {
      readonly kind: 'step';
      readonly step: number;
      readonly loss: number;
      readonly lr: number;
      readonly gradNorm: number;
      readonly tokens: number;
      readonly tokensPerSecond: number;
      readonly seconds: number;
    }
  | {
      readonly kind: 'eval';
      readonly step: number;
      readonly valLoss: number;
      readonly valPerplexity: number;
      readonly tokens: number;
    };

export const LOG_FILE = 'train.jsonl';
export const CHART_FILE = 'loss.svg';

export async function appendLog(dir: string, records: readonly LogRecord[]): Promise<void> {
  if (records.length > 0) await appendFile(join(dir, LOG_FILE), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

/**
 * Readies the log of a run resumed at `step`: a torn last line (a crash mid-append) is dropped, and
 * so are records past `step` (the interrupted run logged steps it never saved; they are redone).
 * Returns what it dropped, as warnings. Any other unreadable line is an error naming it.
 */
export async function resumeLog(dir: string, step: number): Promise<string[]> {
  const file = join(dir, LOG_FILE);
  const { records, torn } = await readLog(file, { tolerateTornEnd: true });
  const kept = records.filter((r) => r.step <= step);
  if (!torn && kept.length === records.length) return [];
  await writeAtomic(file, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
  const warnings = torn ? [`${file}: dropped a partial last line (a write cut short by a crash)`] : [];
  return records.length > kept.length
    ? [
        ...warnings,
        `${file}: dropped ${records.length - kept.length} record(s) after step ${step}, the checkpoint resumed from`,
      ]
    : warnings;
}

/**
 * Redraws loss.svg from the whole log (a resumed run continues the same curve). Lines after a
 * resumed step are the ones that count: an interrupted run may have logged steps it never saved.
 */
export async function writeChart(dir: string, title: string): Promise<void> {
  const { records } = await readLog(join(dir, LOG_FILE), { tolerateTornEnd: false });
  const train = new Map<number, number>();
  const val = new Map<number, number>();
  for (const record of records) {
    if (record.kind === 'step') train.set(record.step, record.loss);
    else val.set(record.step, record.valLoss);
  }
  const series = (name: string, points: Map<number, number>) => ({
    name,
    points: [...points].sort((a, b) => a[0] - b[0]),
  });
  await writeAtomic(
    join(dir, CHART_FILE),
    lineChartSvg([series('train loss', train), series('held-out loss', val)], { title, yLabel: 'loss (nats/token)' }),
  );
}

/** The log's records (none when there is no log); a bad line is a TrainRunError naming file and line. */
async function readLog(
  file: string,
  options: { tolerateTornEnd: boolean },
): Promise<{ records: LogRecord[]; torn: boolean }> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const lines = text.split('\n');
  const records: LogRecord[] = [];
  let torn = false;
  for (const [i, line] of lines.entries()) {
    if (!line.trim()) continue;
    try {
      records.push(JSON.parse(line) as LogRecord);
    } catch {
      // Only the last line can be cut short by a crash: appends are whole lines.
      if (options.tolerateTornEnd && i === lines.length - 1) torn = true;
      else
        throw new TrainRunError(
          `${file}:${i + 1}`,
          `not a JSON record (${line.slice(0, 40)}${line.length > 40 ? '…' : ''})`,
        );
    }
  }
  return { records, torn };
}
