import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { TextTokenizer } from '@recur/checkpoint';
import { tokenizeText, type TokenCorpus, type TokenizeOptions } from '../data/corpus.js';
import { DataError } from '../data/errors.js';
import { decodeTextFile } from '../data/textFile.js';
import { readFileBytes } from './textFile.js';
import { decodeTokenCache, encodeTokenCache, TOKEN_CACHE_VERSION } from './tokenCacheFormat.js';

export interface TokenCacheOptions extends Omit<TokenizeOptions, 'progressEveryBytes'> {
  readonly textFile: string;
  readonly tokenizer: TextTokenizer;
  /**
   * Anything that changes when the tokenizer does — the tokenizer.json text is the simple choice. It is
   * hashed with the text, so a cache made with another tokenizer is never reused.
   */
  readonly tokenizerIdentity: string;
  /** Exact cache path; or give `cacheDir` and the name is `<text file>.<hash prefix>.tokens`. */
  readonly cacheFile?: string;
  readonly cacheDir?: string;
}

export interface TokenCacheResult {
  readonly corpus: TokenCorpus;
  readonly cacheFile: string;
  readonly fromCache: boolean;
  /** Why the cache was not used (absent, stale, damaged); undefined on a hit. */
  readonly missReason?: string;
  /** Hex sha256 of (text bytes, tokenizer identity, tokenization options). */
  readonly hash: string;
}

/** Tokenizes a text file once; later calls with the same text, tokenizer and options read the cache. */
export async function loadTokenCorpus(options: TokenCacheOptions): Promise<TokenCacheResult> {
  const bytes = await readFileBytes(options.textFile);
  const hash = cacheHash(bytes, options);
  const hex = Buffer.from(hash).toString('hex');
  const cacheFile = cachePath(options, hex);
  const cached = await readCache(cacheFile);
  if (typeof cached !== 'string' && Buffer.from(cached.hash).equals(Buffer.from(hash))) {
    options.onProgress?.(bytes.length, bytes.length);
    return { corpus: { tokens: cached.tokens, docStarts: cached.docStarts }, cacheFile, fromCache: true, hash: hex };
  }
  const corpus = tokenizeText(decodeTextFile(bytes, options.textFile), options.tokenizer, options);
  await writeAtomically(cacheFile, encodeTokenCache(corpus, hash));
  return {
    corpus,
    cacheFile,
    fromCache: false,
    missReason: typeof cached === 'string' ? cached : 'made from other text or tokenizer',
    hash: hex,
  };
}

function cacheHash(text: Uint8Array, options: TokenCacheOptions): Uint8Array {
  const settings = {
    v: TOKEN_CACHE_VERSION,
    bos: options.bos ?? true,
    eos: options.eos ?? false,
    separator: options.separator ?? 'auto',
    maxChunkChars: options.maxChunkChars ?? 4096,
  };
  const h = createHash('sha256');
  // Length-prefixed parts, so no two different inputs concatenate to the same bytes.
  for (const part of [JSON.stringify(settings), options.tokenizerIdentity])
    h.update(`${Buffer.byteLength(part)}:`).update(part);
  return new Uint8Array(h.update(text).digest());
}

function cachePath(options: TokenCacheOptions, hex: string): string {
  if (options.cacheFile !== undefined) return options.cacheFile;
  if (options.cacheDir === undefined)
    throw new DataError('bad-option', options.textFile, 'a token cache needs cacheFile or cacheDir');
  return join(options.cacheDir, `${basename(options.textFile)}.${hex.slice(0, 16)}.tokens`);
}

async function readCache(file: string): Promise<ReturnType<typeof decodeTokenCache>> {
  try {
    return decodeTokenCache(new Uint8Array(await readFile(file)));
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT'
      ? 'no cache yet'
      : `unreadable (${(error as Error).message})`;
  }
}

/** Temp file + rename: a crash mid-write never leaves a half cache under the real name. */
async function writeAtomically(file: string, bytes: Uint8Array): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(temp, bytes);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw new DataError(
      'bad-cache',
      file,
      `cannot write the token cache (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
}
