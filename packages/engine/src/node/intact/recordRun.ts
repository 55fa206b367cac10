import { recordIntervals } from '../../intact/intervals.js';
import type { LoadedModel } from '../../model.js';
import type { TrainRunOptions } from '../training/run.js';
import { saveIntervals } from './intervalFiles.js';
import { textWindows } from './intervalSource.js';

/** `--record-intervals N`: the trained model's intervals on the first N windows of the run's data, into `<out>/intact/`. */
export async function recordRunIntervals(options: TrainRunOptions, trained: LoadedModel): Promise<string> {
  const windows = await textWindows(options.textFile, trained, {
    seqLen: options.seqLen,
    windows: options.recordIntervals ?? 0,
  });
  return saveIntervals(options.out, recordIntervals(trained.decoder, trained.lora, windows), {
    model: options.model.source.path,
    data: options.textFile,
  });
}
