import type { TokenCorpus } from './corpus.js';
import { DataError } from './errors.js';
import { Mulberry32 } from '@recur/tensor';
import { shuffledRange } from './rng.js';

export interface SplitOptions {
  /** Share of documents held out for validation, in (0, 1). */
  readonly valFraction: number;
  /** Without a seed the last documents are held out; with one, a seeded random subset (order kept). */
  readonly seed?: number;
  /** Names the data in errors (e.g. the text file). */
  readonly source?: string;
}

export interface TrainValSplit {
  readonly train: TokenCorpus;
  readonly val: TokenCorpus;
}

/**
 * Holds out whole documents, so no validation text leaks into training through a shared window.
 * Deterministic: the same corpus and options give the same split. Each side keeps at least one document.
 */
export function splitTrainVal(corpus: TokenCorpus, options: SplitOptions): TrainValSplit {
  const source = options.source ?? '<corpus>';
  const docs = corpus.docStarts.length;
  if (!(options.valFraction > 0 && options.valFraction < 1)) {
    throw new DataError('bad-option', source, `valFraction must be in (0, 1), got ${options.valFraction}`);
  }
  if (docs < 2) {
    throw new DataError(
      'corpus-too-small',
      source,
      `a train/validation split needs at least 2 documents, found ${docs}`,
    );
  }
  const valCount = Math.min(docs - 1, Math.max(1, Math.round(docs * options.valFraction)));
  const isVal = new Uint8Array(docs);
  if (options.seed === undefined) isVal.fill(1, docs - valCount);
  else
    shuffledRange(docs, new Mulberry32(options.seed))
      .subarray(0, valCount)
      .forEach((d) => (isVal[d] = 1));
  return { train: gather(corpus, isVal, 0), val: gather(corpus, isVal, 1) };
}

/** The documents whose flag equals `want`, concatenated in their original order. */
function gather(corpus: TokenCorpus, flags: Uint8Array, want: number): TokenCorpus {
  const ranges: [number, number][] = [];
  let total = 0;
  for (let d = 0; d < corpus.docStarts.length; d++) {
    if (flags[d] !== want) continue;
    const start = corpus.docStarts[d]!;
    const end = corpus.docStarts[d + 1] ?? corpus.tokens.length;
    ranges.push([start, end]);
    total += end - start;
  }
  const tokens = new Int32Array(total);
  const docStarts = new Uint32Array(ranges.length);
  let at = 0;
  ranges.forEach(([start, end], i) => {
    docStarts[i] = at;
    tokens.set(corpus.tokens.subarray(start, end), at);
    at += end - start;
  });
  return { tokens, docStarts };
}
