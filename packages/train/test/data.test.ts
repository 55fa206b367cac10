import type { TextTokenizer } from '@recur/checkpoint';
import { describe, expect, test } from 'vitest';
import {
  chunkText,
  DataError,
  documentSpans,
  packWindows,
  splitDocuments,
  splitTrainVal,
  tokenizeText,
  utf8Length,
  windowCount,
} from '../src/data/index.js';

/** One id per UTF-16 unit (+10), BOS 1, EOS 2: enough to check where ids go without a real vocabulary. */
const charTokenizer: TextTokenizer = {
  vocabSize: 70000,
  bosId: 1,
  eosId: 2,
  encode: (text, options = {}) => [
    ...(options.addBos === false ? [] : [1]),
    ...Array.from(text, (c) => c.charCodeAt(0) + 10),
  ],
  decode: (ids) => String.fromCharCode(...ids.filter((i) => i >= 10).map((i) => i - 10)),
  tokenToPiece: () => undefined,
};

describe('documents', () => {
  test('blank lines separate documents; outer whitespace is trimmed', () => {
    expect(splitDocuments('  one\ntwo\n\n\nthree \n \nfour\n\n')).toEqual(['one\ntwo', 'three', 'four']);
  });

  test('<|endoftext|> wins over blank lines when present (auto)', () => {
    expect(splitDocuments('a\n\nb<|endoftext|>c')).toEqual(['a\n\nb', 'c']);
    expect(splitDocuments('a\n\nb', 'none')).toEqual(['a\n\nb']);
    expect(documentSpans('')).toEqual([]);
  });
});

describe('chunkText', () => {
  test('pieces stay under the limit, concatenate to the input, prefer line and word starts', () => {
    const text = 'the cat sat on the mat\nand then the dog came along '.repeat(20);
    const chunks = chunkText(text, 40);
    expect(chunks.join('')).toBe(text);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(40);
    for (const c of chunks.slice(1)) expect(c[0] === ' ' || chunks[chunks.indexOf(c) - 1]!.endsWith('\n')).toBe(true);
  });

  test('never splits a surrogate pair', () => {
    const text = '😀'.repeat(25);
    const chunks = chunkText(text, 7);
    expect(chunks.join('')).toBe(text);
    for (const c of chunks) expect(c).toMatch(/^(?:\p{Extended_Pictographic})+$/u);
  });
});

describe('tokenizeText', () => {
  test('BOS before each document, EOS on request, docStarts point at each BOS', () => {
    const corpus = tokenizeText('ab\n\ncde', charTokenizer, { eos: true });
    expect([...corpus.tokens]).toEqual([1, 107, 108, 2, 1, 109, 110, 111, 2]);
    expect([...corpus.docStarts]).toEqual([0, 4]);
    expect([...tokenizeText('ab\n\nc', charTokenizer, { bos: false }).tokens]).toEqual([107, 108, 109]);
  });

  test('progress is monotone and ends at the UTF-8 size of the text', () => {
    const text = Array.from({ length: 50 }, (_, i) => `story ${i} — é😀`).join('\n\n');
    const calls: [number, number][] = [];
    tokenizeText(text, charTokenizer, { progressEveryBytes: 100, onProgress: (d, t) => calls.push([d, t]) });
    const total = Buffer.byteLength(text);
    expect(utf8Length(text)).toBe(total);
    expect(calls.length).toBeGreaterThan(5);
    expect(calls.at(-1)).toEqual([total, total]);
    for (let i = 1; i < calls.length; i++) expect(calls[i]![0]).toBeGreaterThanOrEqual(calls[i - 1]![0]);
  });

  test('long documents are encoded in pieces with the same ids (piece-local tokenizer)', () => {
    const text = 'word '.repeat(3000);
    expect(tokenizeText(text, charTokenizer, { maxChunkChars: 100 }).tokens).toEqual(
      tokenizeText(text, charTokenizer).tokens,
    );
  });
});

describe('splitTrainVal', () => {
  const corpus = tokenizeText(Array.from({ length: 10 }, (_, i) => 'x'.repeat(i + 1)).join('\n\n'), charTokenizer);

  test('holds out the last documents by default, whole documents on each side', () => {
    const { train, val } = splitTrainVal(corpus, { valFraction: 0.2 });
    expect(train.docStarts.length).toBe(8);
    expect(val.docStarts.length).toBe(2);
    expect(train.tokens.length + val.tokens.length).toBe(corpus.tokens.length);
    expect([...val.tokens]).toEqual([1, ...Array(9).fill(130), 1, ...Array(10).fill(130)]);
    expect(val.docStarts[1]).toBe(10);
  });

  test('a seed picks a deterministic random subset', () => {
    const a = splitTrainVal(corpus, { valFraction: 0.3, seed: 7 });
    const b = splitTrainVal(corpus, { valFraction: 0.3, seed: 7 });
    expect(a.val.tokens).toEqual(b.val.tokens);
    expect(a.val.docStarts.length).toBe(3);
    expect(a.val.tokens).not.toEqual(splitTrainVal(corpus, { valFraction: 0.3 }).val.tokens);
  });

  test('refuses a single document and a bad fraction, naming the source', () => {
    const one = tokenizeText('only', charTokenizer);
    expect(() => splitTrainVal(one, { valFraction: 0.1, source: 'tiny.txt' })).toThrow(
      /tiny\.txt: .*at least 2 documents/,
    );
    expect(() => splitTrainVal(corpus, { valFraction: 1 })).toThrow(DataError);
  });
});

describe('packWindows', () => {
  test('windows of seqLen+1 with stride seqLen; the tail is dropped', () => {
    const tokens = Int32Array.from({ length: 11 }, (_, i) => i);
    expect(windowCount(11, 3)).toBe(3);
    expect(packWindows(tokens, 3).map((w) => [...w])).toEqual([
      [0, 1, 2, 3],
      [3, 4, 5, 6],
      [6, 7, 8, 9],
    ]);
    expect(windowCount(4, 3)).toBe(1);
    expect(windowCount(3, 3)).toBe(0);
  });

  test('a corpus shorter than one sequence is a DataError that names the file and what is needed', () => {
    const err = (() => {
      try {
        packWindows(new Int32Array(5), 8, 'stories.txt');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).code).toBe('corpus-too-small');
    expect((err as Error).message).toBe(
      'stories.txt: 5 tokens cannot fill one sequence: seqLen 8 needs at least 9 tokens (use more text or a smaller seqLen)',
    );
    expect(() => packWindows(new Int32Array(5), 0, 'x.txt')).toThrow(/x\.txt: seqLen must be an integer ≥ 1, got 0/);
  });
});
