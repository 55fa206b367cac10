// @recur/train — training a decoder with tfjs autodiff. Browser-safe; file I/O lives in ./node.
export * from './optim/index.js';
export * from './data/index.js';
export * from './tokenizer/index.js';
export * from './report/index.js';
export * from './autodiff/index.js';
export * from './loss/index.js';
export * from './trainer/index.js';
