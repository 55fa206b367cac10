export { DataError, type DataErrorCode } from './errors.js';
export { documentSpans, splitDocuments, type DocumentSeparator, type DocumentSpan } from './documents.js';
export { chunkText } from './chunks.js';
export { tokenizeText, type TokenCorpus, type TokenizeOptions } from './corpus.js';
export { splitTrainVal, type SplitOptions, type TrainValSplit } from './split.js';
export { packWindows, windowAt, windowCount } from './pack.js';
export { PackedBatcher, type PackedBatcherOptions, type PackedBatcherState } from './batcher.js';
export { Mulberry32, mixSeed, shuffledRange } from './rng.js';
export { utf8Length } from './utf8.js';
