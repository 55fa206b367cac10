export { loadCheckpoint } from './load.js';
export { openFileSource } from './file-source.js';
export { writeGgufFile, writeSafetensorsFile, type Deferred } from './stream-write.js';
