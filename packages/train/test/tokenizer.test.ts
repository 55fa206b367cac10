import { readFileSync } from 'node:fs';
import { tokenizerFromHfJson, type TextTokenizer } from '@recur/checkpoint';
import { beforeAll, describe, expect, test } from 'vitest';
import { Mulberry32 } from '@recur/tensor';
import {
  BYTE_TO_CHAR,
  SPLIT_PATTERN,
  trainBpe,
  trainBpeTokenizer,
  type BpeModel,
  type TrainedTokenizer,
} from '../src/tokenizer/index.js';

const CORPUS = '../shared/corpora/tinystories_val/tinystories_val.txt';
const text = readFileSync(CORPUS, 'utf8');

/** Plain rank-order BPE, written independently of the library: lowest-rank adjacent pair first, leftmost on ties. */
function referenceEncode(model: BpeModel, input: string): number[] {
  const rank = new Map(model.merges.map(([l, r], i) => [`${l}\u0000${r}`, i]));
  const id = new Map(model.vocab.map((t, i) => [t, i]));
  const out: number[] = [];
  for (const [piece] of input.matchAll(SPLIT_PATTERN)) {
    const word = Array.from(new TextEncoder().encode(piece), (b) => BYTE_TO_CHAR[b]!);
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const r = rank.get(`${word[i]}\u0000${word[i + 1]}`);
        if (r !== undefined && r < bestRank) [best, bestRank] = [i, r];
      }
      if (best < 0) break;
      word.splice(best, 2, word[best]! + word[best + 1]!);
    }
    out.push(...word.map((t) => id.get(t)!));
  }
  return out;
}

/** Random valid strings: ASCII, accents, CJK, emoji (with ZWJ/skin tones), controls, any scalar value. */
function randomText(rng: Mulberry32, length: number): string {
  const pools: [number, number][] = [
    [0x20, 0x7e],
    [0x00, 0x1f],
    [0xc0, 0x24f],
    [0x4e00, 0x9fff],
    [0x1f300, 0x1faff],
    [0x300, 0x36f],
  ];
  let s = '';
  for (let i = 0; i < length; i++) {
    const roll = rng.next();
    if (roll < 0.05) s += '\u200d';
    else if (roll < 0.1) s += '\n\n ';
    else if (roll < 0.2) {
      let cp = rng.nextInt(0x10ffff + 1);
      if (cp >= 0xd800 && cp <= 0xdfff) cp -= 0x800; // lone surrogates are not UTF-8 text
      s += String.fromCodePoint(cp);
    } else {
      const [lo, hi] = pools[rng.nextInt(pools.length)]!;
      s += String.fromCodePoint(lo + rng.nextInt(hi - lo + 1));
    }
  }
  return s;
}

describe.each([512, 1024])('byte-level BPE trained on tinystories_val, vocab %i', (vocabSize) => {
  let trained: TrainedTokenizer;
  let tok: TextTokenizer;
  let trainMs = 0;

  beforeAll(() => {
    const t0 = performance.now();
    trained = trainBpeTokenizer(text, { vocabSize });
    trainMs = performance.now() - t0;
    tok = tokenizerFromHfJson(trained.tokenizer, trained.config);
  });

  test('trains in seconds to exactly the requested vocabulary, loads with BOS/EOS', () => {
    console.log(`BPE ${vocabSize}: trained in ${trainMs.toFixed(0)} ms, ${trained.model.merges.length} merges`);
    expect(trainMs).toBeLessThan(10_000);
    expect(trained.model.vocab).toHaveLength(vocabSize);
    expect(new Set(trained.model.vocab).size).toBe(vocabSize);
    expect(tok.vocabSize).toBe(vocabSize);
    expect([tok.bosId, tok.eosId]).toEqual([1, 2]);
    expect(tok.encode('Hi')[0]).toBe(1);
  });

  test('round-trips the corpus exactly and reports its compression', () => {
    const ids = tok.encode(text, { addBos: false });
    expect(tok.decode(ids)).toBe(text);
    const bytesPerToken = Buffer.byteLength(text) / ids.length;
    console.log(`BPE ${vocabSize}: ${ids.length} tokens, ${bytesPerToken.toFixed(3)} bytes/token on tinystories_val`);
    expect(bytesPerToken).toBeGreaterThan(vocabSize === 512 ? 2 : 2.8);
  });

  test('round-trips random Unicode (emoji, CJK, controls, characters never seen in training)', () => {
    const rng = new Mulberry32(vocabSize);
    for (let i = 0; i < 300; i++) {
      const s = randomText(rng, 1 + rng.nextInt(60));
      expect(tok.decode(tok.encode(s, { addBos: false }))).toBe(s);
    }
    for (const s of ['', ' ', '  leading and trailing  ', '\r\n\t', '👩‍👩‍👧‍👦 🇺🇳 é vs é', '\uFEFFbom', '\u0000nul']) {
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
  });

  test('the library encoder applies merges in rank order (= a plain reference BPE)', () => {
    const sample = `${text.slice(100_000, 110_000)} Unseen: Ωmega 你好 🚀 naïve café 12345!!`;
    expect(tok.encode(sample, { addBos: false })).toEqual(referenceEncode(trained.model, sample));
  });
});

describe('trainBpe', () => {
  test('is deterministic', () => {
    const slice = text.slice(0, 200_000);
    const a = trainBpeTokenizer(slice, { vocabSize: 600 });
    const b = trainBpeTokenizer(slice, { vocabSize: 600 });
    expect(JSON.stringify(a.tokenizer)).toBe(JSON.stringify(b.tokenizer));
  });

  test('merges the most frequent pair first; ties go to the lexicographically smaller pair', () => {
    // pieces "zz", " zz", " zz", " ab": (z,z)×3 beats (Ġ,z)×2 and the rest.
    expect(trainBpe('zz zz zz ab', { vocabSize: 260, minFrequency: 1 }).merges[0]).toEqual(['z', 'z']);
    // (x,y), (Ġ,a), (a,b) once each: "a" < "x" < "Ġ" (U+0120), so (a,b) first, then (x,y), then (Ġ,ab).
    expect(trainBpe('xy ab', { vocabSize: 262, minFrequency: 1 }).merges).toEqual([
      ['a', 'b'],
      ['x', 'y'],
      ['Ġ', 'ab'],
    ]);
  });

  test('stops short when no pair reaches minFrequency, and rejects a vocabulary below 256 + specials', () => {
    expect(trainBpe('abc', { vocabSize: 1000 }).vocab).toHaveLength(259);
    expect(() => trainBpe('abc', { vocabSize: 100 })).toThrow(/vocabSize must be an integer ≥ 259/);
  });
});
