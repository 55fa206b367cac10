export { loadCheckpoint } from './load.js';
export { openFileSource } from './file-source.js';
