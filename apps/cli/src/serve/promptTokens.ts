import type { ServeTokenizer } from './generation.js';

/** What the server needs to know of a tokenizer's vocabulary, found once per tokenizer. */
export interface TokenizerFacts {
  /**
   * UTF-8 bytes of the longest vocabulary piece, at least 4 (one character): an upper bound on the
   * prompt bytes one token covers (a piece's text is never shorter than what it stands for: `▁` is
   * 3 bytes for one space, `<0x0A>` 6 for one byte), so n tokens never span more than n × this.
   */
  readonly maxTokenBytes: number;
  /**
   * No piece joins a non-space to a following space (`a▁`, `aĠ`): a token boundary always falls
   * before a single space between two words, so the text can be tokenized in pieces split there.
   */
  readonly splitsAtSpaces: boolean;
}

const known = new WeakMap<ServeTokenizer, TokenizerFacts>();
const spaceMarks = '\\s▁ĠĊĉ'; // a space as SentencePiece (▁) and byte-level BPE (Ġ, Ċ, ĉ) spell it
const joinsWordToSpace = new RegExp(`[^${spaceMarks}][${spaceMarks}]`, 'u');

export function tokenizerFacts(tokenizer: ServeTokenizer): TokenizerFacts {
  let facts = known.get(tokenizer);
  if (!facts) {
    let maxTokenBytes = 4;
    let splitsAtSpaces = true;
    for (let id = 0; id < tokenizer.vocabSize; id++) {
      const piece = tokenizer.tokenToPiece(id) ?? '';
      maxTokenBytes = Math.max(maxTokenBytes, Buffer.byteLength(piece));
      if (splitsAtSpaces && joinsWordToSpace.test(piece)) splitsAtSpaces = false;
    }
    facts = { maxTokenBytes, splitsAtSpaces };
    known.set(tokenizer, facts);
  }
  return facts;
}

export interface EncodeOptions {
  readonly addBos: boolean;
  /** Characters per piece (default 4096: about 20 ms of the stories260K tokenizer on one core). */
  readonly chunkChars?: number;
}

/** Precedes every piece after the first, so a prefix-adding normalizer (▁) treats it as mid-text. */
const anchor = 'a';

/**
 * `tokenizer.encode(text)` without holding the event loop: long text is encoded in pieces split
 * before a single space between words (where no token crosses, see `splitsAtSpaces`), yielding
 * between pieces. Each later piece is encoded behind an anchor word whose ids are then dropped;
 * if they do not come out first, the rest is encoded in one call instead, so the ids are exact.
 */
export async function encodePrompt(tokenizer: ServeTokenizer, text: string, options: EncodeOptions): Promise<number[]> {
  const chunkChars = options.chunkChars ?? 4096;
  if (text.length <= chunkChars || !tokenizerFacts(tokenizer).splitsAtSpaces)
    return tokenizer.encode(text, { addBos: options.addBos });
  const anchorIds = tokenizer.encode(anchor, { addBos: false });
  const ids: number[] = [];
  let start = 0;
  while (start < text.length) {
    const end = splitPoint(text, start + chunkChars);
    if (start === 0) ids.push(...tokenizer.encode(text.slice(0, end), { addBos: options.addBos }));
    else {
      const piece = tokenizer.encode(anchor + text.slice(start, end), { addBos: false });
      if (!anchorIds.every((id, i) => piece[i] === id))
        return [...ids, ...tokenizer.encode(text.slice(start), { addBos: false })];
      ids.push(...piece.slice(anchorIds.length));
    }
    start = end;
    if (start < text.length) await new Promise((resolve) => setImmediate(resolve));
  }
  return ids;
}

const isSpace = (c: string | undefined): boolean => c === undefined || /\s/u.test(c);

/** The first index ≥ `from` holding a single space between two non-spaces (the text's end if none). */
function splitPoint(text: string, from: number): number {
  for (let i = Math.max(1, from); i < text.length - 1; i++) {
    if (text[i] === ' ' && !isSpace(text[i - 1]) && !isSpace(text[i + 1])) return i;
  }
  return text.length;
}
