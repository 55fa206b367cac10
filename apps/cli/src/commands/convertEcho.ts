import type { Command } from 'commander';
import {
  autoEchoPlan,
  diagnoseModel,
  disposeModel,
  echoPlanText,
  parseEchoPlan,
  perplexityWindows,
  withEchoAttention,
  type LoadedModel,
} from '@recur/engine';
import { checkModelOutput, readTextFile, saveConvertedModel } from '@recur/engine/node';
import { parseNumber, UsageError } from '../errors.js';
import { openModel, printJson } from './shared.js';

export interface EchoCliOptions {
  readonly out?: string;
  readonly echoAttention?: string;
  readonly echoThreshold: string;
  readonly data?: string;
  readonly window: string;
  readonly echoWindows: string;
  readonly backend?: string;
  readonly force?: boolean;
  readonly json?: boolean;
}

/** Flags that build a looped block or MASA atoms: an echo conversion takes the model as it is. */
const otherFlags = ['loops', 'strategy', 'depthFit', 'init', 'loraRankAttn', 'loraRankMlp', 'loraInit', 'loraScale'];

export function checkEchoFlags(command: Command): void {
  const flag = otherFlags.find((name) => command.getOptionValueSource(name) === 'cli');
  if (flag)
    throw new UsageError(
      `--echo-attention converts the model as it is (plain, or a converted folder); --${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} belongs to a recursive conversion`,
    );
}

/** Echo-only flags without --echo-attention: one line. */
export function checkEchoOnlyFlags(command: Command): void {
  const echoOnly = {
    echoThreshold: '--echo-threshold',
    data: '--data',
    window: '--window',
    echoWindows: '--echo-windows',
  };
  const flag = Object.entries(echoOnly).find(([name]) => command.getOptionValueSource(name) === 'cli')?.[1];
  if (flag) throw new UsageError(`${flag} applies with --echo-attention only`);
}

/**
 * `recur convert SRC --out DIR --echo-attention auto|LIST`: EchoAtt ("EchoAtt: Attend, Copy, then Adjust
 * for More Efficient Large Language Models", 2024, arXiv 2409.14595) — the listed steps reuse an earlier
 * step's attention maps and drop their q/k; `auto` picks them from the attention-map similarity on --data.
 */
export async function runEchoConvert(source: string, options: EchoCliOptions): Promise<void> {
  if (!options.out) throw new UsageError('--out DIR is required');
  const spec = options.echoAttention ?? '';
  const threshold = parseNumber('echo-threshold', options.echoThreshold, { min: 0, max: 1 });
  const given = spec === 'auto' ? undefined : usage(() => parseEchoPlan(spec));
  if (spec === 'auto' && !options.data)
    throw new UsageError('--echo-attention auto needs --data FILE to measure maps on');
  const target = { sources: [source, ...(options.data ? [options.data] : [])], force: options.force ?? false };
  await checkModelOutput(options.out, 'folder', target); // refuse before the conversion
  const started = performance.now();
  const original = await openModel({ model: source, ...(options.backend ? { backend: options.backend } : {}) });
  let converted: LoadedModel | undefined;
  try {
    const reuse = given ?? (await autoPlan(original, options, threshold));
    converted = usage(() => withEchoAttention(original, reuse));
    const { bytes } = await saveConvertedModel(converted, options.out, target);
    const summary = {
      out: options.out,
      echoAttention: reuse,
      rule: given
        ? 'given'
        : `auto: inner steps reuse the most similar earlier computing step at similarity ≥ ${threshold}`,
      parameters: { source: original.decoder.parameterCount, echo: converted.decoder.parameterCount },
      bytes,
      seconds: (performance.now() - started) / 1000,
    };
    if (options.json) return printJson(summary);
    const fmt = (n: number) => n.toLocaleString('en-US');
    console.log(`EchoAtt plan (step<-source): ${echoPlanText(reuse)} · ${summary.rule}`);
    const saved = summary.parameters.source - summary.parameters.echo;
    console.log(
      `base parameters ${fmt(summary.parameters.source)} → ${fmt(summary.parameters.echo)} (${fmt(saved)} q/k weights dropped)`,
    );
    console.log(`written to ${options.out} in ${summary.seconds.toFixed(1)} s; recover with recur train --distill`);
  } finally {
    if (converted) disposeModel(converted);
    else disposeModel(original);
  }
}

/** The `auto` plan from diagnose's step × step attention-map similarity on the first windows of --data. */
async function autoPlan(model: LoadedModel, options: EchoCliOptions, threshold: number) {
  const window = parseNumber('window', options.window, { integer: true, min: 2 });
  const count = parseNumber('echo-windows', options.echoWindows, { integer: true, min: 1 });
  const text = await readTextFile(options.data!, { maxBytes: Infinity });
  const windows = perplexityWindows(model, text, window).slice(0, count);
  const result = await usageAsync(() => diagnoseModel(model, { windows }));
  return autoEchoPlan(result.attentionSimilarity, threshold);
}

function usage<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

async function usageAsync<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}
