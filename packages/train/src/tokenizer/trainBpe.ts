import { BYTE_TO_CHAR, countPieces, pieceBytes } from './byteLevel.js';
import { PairHeap, type PairEntry } from './pairHeap.js';

export interface TrainBpeOptions {
  /** Final vocabulary size, special tokens and the 256 byte tokens included. */
  readonly vocabSize: number;
  /** Reserved first ids, in order (default `<unk>`, `<s>`, `</s>` → 0, 1, 2 as in Llama vocabularies). */
  readonly specialTokens?: readonly string[];
  /** Pairs seen fewer times are never merged (default 2); training then stops short of vocabSize. */
  readonly minFrequency?: number;
}

/** A trained byte-level BPE: `vocab[id]` is the token string, `merges` in rank order. */
export interface BpeModel {
  readonly vocab: readonly string[];
  readonly merges: readonly (readonly [string, string])[];
  readonly specialTokens: readonly string[];
}

export const DEFAULT_SPECIAL_TOKENS: readonly string[] = ['<unk>', '<s>', '</s>'];

/**
 * Trains byte-level BPE: pieces are counted once (GPT-2 split), then the most frequent adjacent pair
 * is merged repeatedly while only the pair counts of words containing it are updated. Ties go to the
 * lexicographically smaller (left, right) token strings, so the result is deterministic.
 */
export function trainBpe(texts: string | Iterable<string>, options: TrainBpeOptions): BpeModel {
  const specials = options.specialTokens ?? DEFAULT_SPECIAL_TOKENS;
  if (!Number.isInteger(options.vocabSize) || options.vocabSize < specials.length + 256) {
    throw new RangeError(
      `vocabSize must be an integer ≥ ${specials.length + 256} (special tokens + 256 bytes), got ${options.vocabSize}`,
    );
  }
  const trainer = new BpeTrainer(specials, countPieces(typeof texts === 'string' ? [texts] : texts));
  trainer.run(options.vocabSize, options.minFrequency ?? 2);
  return { vocab: trainer.vocab, merges: trainer.merges, specialTokens: [...specials] };
}

class BpeTrainer {
  readonly vocab: string[];
  readonly merges: [string, string][] = [];
  private readonly ids = new Map<string, number>();
  private readonly words: number[][] = [];
  private readonly wordCounts: number[] = [];
  private readonly pairCounts = new Map<number, number>();
  private readonly pairWords = new Map<number, Set<number>>();
  private readonly heap = new PairHeap((a, b) => this.before(a, b));
  /** Pair keys are left·KEY + right; ids stay far below 2^21 so keys are exact doubles. */
  private static readonly KEY = 1 << 21;

  constructor(specials: readonly string[], pieces: Map<string, number>) {
    this.vocab = [...specials, ...BYTE_TO_CHAR];
    this.vocab.forEach((token, id) => this.ids.set(token, id));
    const firstByte = specials.length;
    for (const [piece, count] of pieces) {
      this.words.push(Array.from(pieceBytes(piece), (b) => firstByte + b));
      this.wordCounts.push(count);
    }
    this.words.forEach((_, w) => this.addPairs(w));
    for (const [key, count] of this.pairCounts) this.heap.push({ key, count });
  }

  run(vocabSize: number, minFrequency: number): void {
    while (this.vocab.length < vocabSize) {
      const best = this.popBest();
      if (best === undefined || best.count < minFrequency) return;
      this.merge(best.key);
    }
  }

  private popBest(): PairEntry | undefined {
    for (let e = this.heap.pop(); e !== undefined; e = this.heap.pop()) {
      if (this.pairCounts.get(e.key) === e.count) return e;
    }
    return undefined;
  }

  /** Records the merge, then rewrites every word holding the pair and re-pushes the pairs that changed. */
  private merge(key: number): void {
    const left = Math.floor(key / BpeTrainer.KEY);
    const right = key % BpeTrainer.KEY;
    const merged = this.tokenId(this.vocab[left]! + this.vocab[right]!);
    this.merges.push([this.vocab[left]!, this.vocab[right]!]);
    const touched = new Set<number>();
    for (const w of this.pairWords.get(key) ?? []) {
      if (!this.wordHasPair(w, left, right)) continue;
      this.removePairs(w, touched);
      this.words[w] = mergeInWord(this.words[w]!, left, right, merged);
      this.addPairs(w, touched);
    }
    this.pairWords.delete(key);
    for (const k of touched) {
      const count = this.pairCounts.get(k) ?? 0;
      if (count > 0) this.heap.push({ key: k, count });
      else this.pairCounts.delete(k);
    }
  }

  /** Two merges can spell the same string ("ab"+"c", "a"+"bc"); the vocabulary keeps one id for it. */
  private tokenId(token: string): number {
    let id = this.ids.get(token);
    if (id === undefined) {
      id = this.vocab.length;
      this.vocab.push(token);
      this.ids.set(token, id);
    }
    return id;
  }

  private wordHasPair(w: number, left: number, right: number): boolean {
    const word = this.words[w]!;
    for (let i = 0; i + 1 < word.length; i++) if (word[i] === left && word[i + 1] === right) return true;
    return false;
  }

  private addPairs(w: number, touched?: Set<number>): void {
    const word = this.words[w]!;
    const count = this.wordCounts[w]!;
    for (let i = 0; i + 1 < word.length; i++) {
      const k = word[i]! * BpeTrainer.KEY + word[i + 1]!;
      this.pairCounts.set(k, (this.pairCounts.get(k) ?? 0) + count);
      let where = this.pairWords.get(k);
      if (!where) {
        where = new Set();
        this.pairWords.set(k, where);
      }
      where.add(w);
      touched?.add(k);
    }
  }

  private removePairs(w: number, touched: Set<number>): void {
    const word = this.words[w]!;
    const count = this.wordCounts[w]!;
    for (let i = 0; i + 1 < word.length; i++) {
      const k = word[i]! * BpeTrainer.KEY + word[i + 1]!;
      this.pairCounts.set(k, (this.pairCounts.get(k) ?? 0) - count);
      touched.add(k);
    }
  }

  /** Higher count first; ties by left token string, then right token string (code-unit order). */
  private before(a: PairEntry, b: PairEntry): boolean {
    if (a.count !== b.count) return a.count > b.count;
    const [al, ar] = this.pairTokens(a.key);
    const [bl, br] = this.pairTokens(b.key);
    return al !== bl ? al < bl : ar < br;
  }

  private pairTokens(key: number): [string, string] {
    return [this.vocab[Math.floor(key / BpeTrainer.KEY)]!, this.vocab[key % BpeTrainer.KEY]!];
  }
}

/** Replaces each non-overlapping (left, right), scanning left to right — what rank-order encoding does too. */
function mergeInWord(word: number[], left: number, right: number, merged: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < word.length; i++) {
    if (i + 1 < word.length && word[i] === left && word[i + 1] === right) {
      out.push(merged);
      i++;
    } else out.push(word[i]!);
  }
  return out;
}
