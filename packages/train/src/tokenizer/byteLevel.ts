/**
 * GPT-2's byte ↔ printable-character map: printable Latin-1 bytes stand for themselves, the other 68
 * bytes (controls, space, …) are shifted to U+0100… so every byte string is a visible token string.
 * The same table is hard-wired into every ByteLevel pre-tokenizer/decoder (@huggingface/tokenizers too).
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable = (b: number): boolean =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const chars: string[] = [];
  let shifted = 0;
  for (let b = 0; b < 256; b++) chars.push(String.fromCharCode(printable(b) ? b : 256 + shifted++));
  return chars;
})();

/**
 * The GPT-2 split regex that the ByteLevel pre-tokenizer applies with `use_regex: true` (identical in
 * the Rust and JS tokenizers): contractions, letters / digits / other runs with one leading space,
 * whitespace runs. Training must split exactly as encoding will.
 */
export const SPLIT_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const encoder = new TextEncoder();

/** The UTF-8 bytes of a pre-tokenized piece. */
export function pieceBytes(piece: string): Uint8Array {
  return encoder.encode(piece);
}

/** Each distinct pre-tokenized piece of the texts with how often it occurs. */
export function countPieces(texts: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const match of text.matchAll(SPLIT_PATTERN)) {
      counts.set(match[0], (counts.get(match[0]) ?? 0) + 1);
    }
  }
  return counts;
}
