import type { HfTokenizerFiles } from '@recur/checkpoint';
import { bpeTokenizerFiles } from './hfJson.js';
import { trainBpe, type BpeModel, type TrainBpeOptions } from './trainBpe.js';

export interface TrainedTokenizer extends HfTokenizerFiles {
  readonly model: BpeModel;
}

/**
 * Trains a byte-level BPE on `texts` and returns it as Hugging Face tokenizer files, ready for
 * `tokenizerFromHfJson(tokenizer, config)` or for writing beside a model.
 */
export function trainBpeTokenizer(texts: string | Iterable<string>, options: TrainBpeOptions): TrainedTokenizer {
  const model = trainBpe(texts, options);
  return { model, ...bpeTokenizerFiles(model) };
}
