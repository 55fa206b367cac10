// @recur/train/node — file-backed parts: training checkpoints, token caches.
export {};
export { loadTokenCorpus, type TokenCacheOptions, type TokenCacheResult } from './tokenCache.js';
export { decodeTokenCache, encodeTokenCache, TOKEN_CACHE_VERSION, type CachedCorpus } from './tokenCacheFormat.js';
