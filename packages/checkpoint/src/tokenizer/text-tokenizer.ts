import { Tokenizer } from '@huggingface/tokenizers';
import { CheckpointError } from '../errors.js';

export interface EncodeOptions {
  /** Put the BOS id first (default true, as Llama tokenizers do); ignored when there is no BOS. */
  readonly addBos?: boolean;
}

/** Text ↔ token ids, independent of where the vocabulary came from. */
export interface TextTokenizer {
  readonly vocabSize: number;
  /** null when the vocabulary has no BOS token (e.g. Qwen2). */
  readonly bosId: number | null;
  readonly eosId: number | null;
  encode(text: string, options?: EncodeOptions): number[];
  /** Special tokens (BOS, EOS, …) are dropped, so decode(encode(x)) == x. */
  decode(ids: readonly number[]): string;
  /** The vocabulary entry of one id (`▁the`, `<0x0A>`), or undefined out of range. */
  tokenToPiece(id: number): string | undefined;
}

export interface SpecialIds {
  readonly bosId: number | null;
  readonly eosId: number | null;
}

/**
 * Wraps a `@huggingface/tokenizers` Tokenizer. BOS is added by us rather than by the tokenizer's
 * post-processor so `addBos` means exactly that, whatever template the file carries.
 */
export function wrapTokenizer(
  file: string,
  tokenizerJson: object,
  tokenizerConfig: object,
  ids: (t: Tokenizer) => SpecialIds,
): TextTokenizer {
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
  } catch (error) {
    // The library throws plain Errors/TypeErrors on malformed input; give them our type.
    throw new CheckpointError('bad-tokenizer', file, `cannot build the tokenizer (${(error as Error).message})`);
  }
  const { bosId, eosId } = ids(tokenizer);
  const vocabSize = tokenizer.get_vocab(true).size;
  return {
    vocabSize,
    bosId,
    eosId,
    encode(text, options = {}) {
      const body = tokenizer.encode(text, { add_special_tokens: false }).ids;
      return (options.addBos ?? true) && bosId !== null ? [bosId, ...body] : body;
    },
    decode(ids) {
      // The library refuses an empty list; the empty text is the right answer.
      return ids.length === 0 ? '' : tokenizer.decode([...ids], { skip_special_tokens: true });
    },
    tokenToPiece: (id) => tokenizer.id_to_token(id),
  };
}
