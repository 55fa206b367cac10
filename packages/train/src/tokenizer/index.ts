export { trainBpe, DEFAULT_SPECIAL_TOKENS, type BpeModel, type TrainBpeOptions } from './trainBpe.js';
export { bpeTokenizerFiles } from './hfJson.js';
export { trainBpeTokenizer, type TrainedTokenizer } from './trainTokenizer.js';
export { BYTE_TO_CHAR, SPLIT_PATTERN, countPieces } from './byteLevel.js';
