import type { TokenCorpus } from '../data/corpus.js';

/**
 * Token cache file, little-endian:
 *   0 magic "RTOK" · 4 version u32 · 8 dtype u32 (1 = uint16 ids, 2 = int32 ids) · 12 reserved u32
 *   16 tokenCount u64 · 24 docCount u64 · 32 sha256 of (text bytes + tokenizer identity + options), 32 bytes
 *   64 docStarts u32[docCount] · then ids (uint16 or int32)[tokenCount]
 */
export const TOKEN_CACHE_VERSION = 1;
const MAGIC = 0x4b4f5452; // "RTOK" read as a little-endian u32
const HEADER = 64;

export interface CachedCorpus extends TokenCorpus {
  readonly hash: Uint8Array;
}

/** Serialises a corpus; ids go as uint16 when they all fit (halves the file for small vocabularies). */
export function encodeTokenCache(corpus: TokenCorpus, hash: Uint8Array): Uint8Array {
  const { tokens, docStarts } = corpus;
  const narrow = tokens.every((id) => id >= 0 && id < 65536);
  const width = narrow ? 2 : 4;
  const bytes = new Uint8Array(HEADER + 4 * docStarts.length + width * tokens.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, TOKEN_CACHE_VERSION, true);
  view.setUint32(8, narrow ? 1 : 2, true);
  view.setBigUint64(16, BigInt(tokens.length), true);
  view.setBigUint64(24, BigInt(docStarts.length), true);
  bytes.set(hash.subarray(0, 32), 32);
  let at = HEADER;
  for (const start of docStarts) {
    view.setUint32(at, start, true);
    at += 4;
  }
  for (const id of tokens) {
    if (narrow) view.setUint16(at, id, true);
    else view.setInt32(at, id, true);
    at += width;
  }
  return bytes;
}

/** Parses a cache file, or returns why it is unusable (a stale or damaged cache is rebuilt, not fatal). */
export function decodeTokenCache(bytes: Uint8Array): CachedCorpus | string {
  if (bytes.length < HEADER) return 'shorter than its header';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) return 'not a token cache (bad magic)';
  if (view.getUint32(4, true) !== TOKEN_CACHE_VERSION)
    return `version ${view.getUint32(4, true)}, expected ${TOKEN_CACHE_VERSION}`;
  const dtype = view.getUint32(8, true);
  if (dtype !== 1 && dtype !== 2) return `unknown dtype ${dtype}`;
  const width = dtype === 1 ? 2 : 4;
  const tokenCount = Number(view.getBigUint64(16, true));
  const docCount = Number(view.getBigUint64(24, true));
  if (bytes.length !== HEADER + 4 * docCount + width * tokenCount) return 'truncated or oversized';
  const docStarts = new Uint32Array(docCount);
  for (let d = 0, at = HEADER; d < docCount; d++, at += 4) docStarts[d] = view.getUint32(at, true);
  const tokens = new Int32Array(tokenCount);
  const base = HEADER + 4 * docCount;
  for (let i = 0; i < tokenCount; i++)
    tokens[i] = width === 2 ? view.getUint16(base + 2 * i, true) : view.getInt32(base + 4 * i, true);
  return { tokens, docStarts, hash: bytes.slice(32, 64) };
}
