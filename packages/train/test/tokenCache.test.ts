import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tokenizerFromHfJson, type TextTokenizer } from '@recur/checkpoint';
import { beforeAll, describe, expect, test } from 'vitest';
import { DataError, tokenizeText } from '../src/data/index.js';
import { decodeTokenCache, encodeTokenCache, loadTokenCorpus } from '../src/node/index.js';
import { trainBpeTokenizer } from '../src/tokenizer/index.js';

const CORPUS = '../shared/corpora/tinystories_val/tinystories_val.txt';
const STORIES_TOKENIZER = '../shared/models/stories260K/hf/tokenizer.json';

describe('token cache format', () => {
  test('round-trips uint16 and int32 ids; a damaged file is reported, not parsed', () => {
    const hash = new Uint8Array(32).fill(7);
    for (const tokens of [Int32Array.of(1, 2, 65535), Int32Array.of(1, 70000, -1)]) {
      const bytes = encodeTokenCache({ tokens, docStarts: Uint32Array.of(0, 2) }, hash);
      const back = decodeTokenCache(bytes);
      expect(back).toEqual({ tokens, docStarts: Uint32Array.of(0, 2), hash });
      expect(decodeTokenCache(bytes.subarray(0, bytes.length - 1))).toBe('truncated or oversized');
    }
    expect(decodeTokenCache(new Uint8Array(100))).toBe('not a token cache (bad magic)');
  });
});

describe('loadTokenCorpus', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-tokcache-'));
  const textFile = join(dir, 'stories.txt');
  let tokenizer: TextTokenizer;
  let identity: string;

  beforeAll(() => {
    writeFileSync(textFile, 'Once upon a time there was a cat.\n\nThe cat sat. 😀\n\nThe end.\n');
    identity = readFileSync(STORIES_TOKENIZER, 'utf8');
    tokenizer = tokenizerFromHfJson(JSON.parse(identity));
  });

  test('tokenizes once, then reads the cache; the result equals direct tokenization', async () => {
    const opts = { textFile, tokenizer, tokenizerIdentity: identity, cacheDir: join(dir, 'cache') };
    const first = await loadTokenCorpus(opts);
    expect(first.fromCache).toBe(false);
    expect(first.missReason).toBe('no cache yet');
    const second = await loadTokenCorpus(opts);
    expect(second.fromCache).toBe(true);
    expect(second.cacheFile).toBe(first.cacheFile);
    expect(second.corpus).toEqual(tokenizeText(readFileSync(textFile, 'utf8'), tokenizer));
    expect(second.corpus.docStarts).toHaveLength(3);
    expect(readdirSync(join(dir, 'cache'))).toEqual([second.cacheFile.split('/').at(-1)]); // no temp files left
  });

  test('changed text, tokenizer identity or options miss the cache (same cacheFile → rebuilt)', async () => {
    const cacheFile = join(dir, 'fixed.tokens');
    const base = { textFile, tokenizer, tokenizerIdentity: identity, cacheFile };
    expect((await loadTokenCorpus(base)).fromCache).toBe(false);
    expect((await loadTokenCorpus(base)).fromCache).toBe(true);
    const other = await loadTokenCorpus({ ...base, tokenizerIdentity: 'another tokenizer' });
    expect([other.fromCache, other.missReason]).toEqual([false, 'made from other text or tokenizer']);
    expect((await loadTokenCorpus({ ...base, tokenizerIdentity: 'another tokenizer', eos: true })).fromCache).toBe(
      false,
    );
    writeFileSync(cacheFile, 'garbage');
    expect((await loadTokenCorpus(base)).missReason).toBe('shorter than its header');
    expect((await loadTokenCorpus(base)).fromCache).toBe(true);
  });

  test('typed errors name the file: missing text, invalid UTF-8, no cache location', async () => {
    const missing = join(dir, 'missing.txt');
    await expect(
      loadTokenCorpus({ textFile: missing, tokenizer, tokenizerIdentity: identity, cacheDir: dir }),
    ).rejects.toThrow(`${missing}: cannot read the text file (ENOENT)`);
    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, Uint8Array.of(0x61, 0xff, 0x62));
    await expect(
      loadTokenCorpus({ textFile: bad, tokenizer, tokenizerIdentity: identity, cacheDir: dir }),
    ).rejects.toThrow(DataError);
    await expect(loadTokenCorpus({ textFile, tokenizer, tokenizerIdentity: identity })).rejects.toThrow(
      /needs cacheFile or cacheDir/,
    );
  });

  test('whole tinystories_val: stories260K and a trained byte-level BPE (timings reported)', async () => {
    const trained = trainBpeTokenizer(readFileSync(CORPUS, 'utf8'), { vocabSize: 1024 });
    const cases: [string, TextTokenizer, string][] = [
      ['stories260K', tokenizer, identity],
      ['own BPE 1024', tokenizerFromHfJson(trained.tokenizer, trained.config), JSON.stringify(trained.tokenizer)],
    ];
    for (const [name, tok, id] of cases) {
      const progress: number[] = [];
      const t0 = performance.now();
      const built = await loadTokenCorpus({
        textFile: CORPUS,
        tokenizer: tok,
        tokenizerIdentity: id,
        cacheDir: dir,
        onProgress: (d) => progress.push(d),
      });
      const buildMs = performance.now() - t0;
      const t1 = performance.now();
      const hit = await loadTokenCorpus({ textFile: CORPUS, tokenizer: tok, tokenizerIdentity: id, cacheDir: dir });
      const hitMs = performance.now() - t1;
      console.log(
        `${name}: tokenized tinystories_val (${built.corpus.docStarts.length} documents, ${built.corpus.tokens.length} tokens) in ${buildMs.toFixed(0)} ms; cache hit ${hitMs.toFixed(0)} ms`,
      );
      expect([built.fromCache, hit.fromCache]).toEqual([false, true]);
      expect(hit.corpus).toEqual(built.corpus);
      expect(progress.length).toBeGreaterThan(5);
      expect(progress.at(-1)).toBe(794375);
    }
  });
});
