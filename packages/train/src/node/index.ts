// @recur/train/node — file-backed parts: training checkpoints, token caches.
export {
  saveCheckpoint,
  loadLatestCheckpoint,
  loadCheckpointDir,
  resumeTraining,
  type LoadedCheckpoint,
  type SaveCheckpointOptions,
} from './checkpoint.js';
export { TrainCheckpointError, type TrainCheckpointErrorCode } from './checkpointError.js';
export { encodeCheckpoint, type CheckpointStateBase } from './checkpointEncode.js';
export { listCheckpointDirs, stepDirName, writeCheckpointDir, type AtomicWriteOptions } from './checkpointFiles.js';
export {
  checkIdentity,
  modelIdentity,
  type CheckpointState,
  type ModelIdentity,
  type OptimizerRecord,
} from './checkpointState.js';
export { loadTokenCorpus, type TokenCacheOptions, type TokenCacheResult } from './tokenCache.js';
export { decodeTokenCache, encodeTokenCache, TOKEN_CACHE_VERSION, type CachedCorpus } from './tokenCacheFormat.js';
export { readFileBytes, readTextFile } from './textFile.js';
