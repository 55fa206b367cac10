import { stat } from 'node:fs/promises';
import { packWindows, windowCount } from '@recur/train';
import { readTextFile } from '@recur/train/node';
import { recordIntervals, type ActivationIntervals } from '../../intact/intervals.js';
import type { LoadedModel } from '../../model.js';
import { TrainRunError } from '../training/errors.js';
import { loadIntervals } from './intervalFiles.js';

export interface IntervalSourceOptions {
  /** Tokens per recorded window (plus one, like training windows). */
  readonly seqLen: number;
  /** At most this many windows from the start of a data file. */
  readonly windows: number;
}

/**
 * The previous domain's activation intervals for `--intact-from`: a run folder (or its intact/ folder)
 * that recorded them, or a text file to record them on now, with `model` (the model about to train).
 */
export async function intervalsFrom(
  source: string,
  model: LoadedModel,
  options: IntervalSourceOptions,
): Promise<ActivationIntervals> {
  const info = await stat(source).catch(() => {
    throw new TrainRunError(source, 'not found (--intact-from takes a run folder or a text file)');
  });
  if (info.isDirectory()) return loadIntervals(source);
  return recordIntervals(model.decoder, model.lora, await textWindows(source, model, options));
}

/** The first `windows` windows of seqLen + 1 tokens of a text file (only as much text as they need is tokenized). */
export async function textWindows(
  file: string,
  model: LoadedModel,
  options: IntervalSourceOptions,
): Promise<Int32Array[]> {
  const text = await readTextFile(file);
  // ~16 characters per token is generous for BPE vocabularies; a short file simply gives fewer windows.
  const head = text.slice(0, options.windows * (options.seqLen + 1) * 16);
  const tokens = Int32Array.from(model.tokenizer.encode(head));
  if (windowCount(tokens.length, options.seqLen) === 0)
    throw new TrainRunError(file, `has ${tokens.length} tokens, too few for one window of ${options.seqLen + 1}`);
  return packWindows(tokens, options.seqLen, file).slice(0, options.windows);
}
