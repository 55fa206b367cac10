import { CheckpointError } from '../errors.js';
import type { GgufMetadata } from '../gguf/reader.js';
import { spmMerges } from './spm-merges.js';
import { wrapTokenizer, type TextTokenizer } from './text-tokenizer.js';

/** llama.cpp token types. */
const tokenType = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface HfTokenizerFiles {
  /** The contents of a tokenizer.json. */
  readonly tokenizer: Record<string, unknown>;
  /** The contents of a tokenizer_config.json. */
  readonly config: Record<string, unknown>;
}

/**
 * Builds the tokenizer.json that Hugging Face's converter makes from a SentencePiece (GGUF
 * `tokenizer.ggml.model` = "llama") vocabulary: BPE with byte fallback, "▁" for spaces.
 */
export function ggufTokenizerJson(metadata: GgufMetadata, file: string): HfTokenizerFiles {
  const model = metadata.get('tokenizer.ggml.model');
  if (model !== 'llama') {
    throw new CheckpointError(
      'unsupported-tokenizer',
      file,
      `tokenizer.ggml.model is ${JSON.stringify(String(model))}; only "llama" (SentencePiece) is supported`,
    );
  }
  const tokens = listOf(metadata, file, 'tokenizer.ggml.tokens', 'string', undefined);
  const scores = listOf(metadata, file, 'tokenizer.ggml.scores', 'number', tokens.length);
  const types = listOf(metadata, file, 'tokenizer.ggml.token_type', 'number', tokens.length);
  const typeOf = (id: number): number => types[id] ?? tokenType.normal;
  const unkId = tokenIdOf(metadata, file, 'tokenizer.ggml.unknown_token_id', tokens.length) ?? 0;
  const bosId = tokenIdOf(metadata, file, 'tokenizer.ggml.bos_token_id', tokens.length);
  const eosId = tokenIdOf(metadata, file, 'tokenizer.ggml.eos_token_id', tokens.length);
  const spacePrefix = metadata.get('tokenizer.ggml.add_space_prefix') !== false;
  const addBos = metadata.get('tokenizer.ggml.add_bos_token') !== false && bosId !== null;
  const mergeable = (id: number): boolean => typeOf(id) === tokenType.normal || typeOf(id) === tokenType.userDefined;
  const vocab: Record<string, number> = Object.create(null);
  tokens.forEach((token, id) => {
    if (!(token in vocab)) vocab[token] = id; // a duplicated piece keeps its first id
  });
  const bos = bosId === null ? null : tokens[bosId]!;
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens(tokens, typeOf),
    normalizer: normalizer(spacePrefix),
    pre_tokenizer: null,
    post_processor: addBos && bos !== null ? bosTemplate(bos, bosId!) : null,
    decoder: decoder(spacePrefix),
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: tokens[unkId]!,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: spmMerges(tokens, scores, mergeable),
    },
  };
  const config = {
    bos_token: bos,
    eos_token: eosId === null ? null : tokens[eosId]!,
    unk_token: tokens[unkId]!,
    add_bos_token: addBos,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
  };
  return { tokenizer, config };
}

/** A TextTokenizer for the vocabulary embedded in a GGUF file. */
export function tokenizerFromGguf(metadata: GgufMetadata, file: string): TextTokenizer {
  const { tokenizer } = ggufTokenizerJson(metadata, file);
  const size = (metadata.get('tokenizer.ggml.tokens') as readonly string[]).length;
  const ids = {
    bosId: tokenIdOf(metadata, file, 'tokenizer.ggml.bos_token_id', size),
    eosId: tokenIdOf(metadata, file, 'tokenizer.ggml.eos_token_id', size),
  };
  return wrapTokenizer(file, tokenizer, { clean_up_tokenization_spaces: false }, () => ids);
}

function addedTokens(tokens: readonly string[], typeOf: (id: number) => number): object[] {
  const added: object[] = [];
  tokens.forEach((content, id) => {
    const t = typeOf(id);
    if (t !== tokenType.unknown && t !== tokenType.control && t !== tokenType.userDefined) return;
    const special = t !== tokenType.userDefined;
    added.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: !special, special });
  });
  return added;
}

function normalizer(spacePrefix: boolean): object {
  const replace = { type: 'Replace', pattern: { String: ' ' }, content: '▁' };
  return spacePrefix ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, replace] } : replace;
}

function decoder(spacePrefix: boolean): object {
  const steps: object[] = [
    { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
    { type: 'ByteFallback' },
    { type: 'Fuse' },
  ];
  if (spacePrefix) steps.push({ type: 'Strip', content: ' ', start: 1, stop: 0 }); // undo the prepended ▁
  return { type: 'Sequence', decoders: steps };
}

function bosTemplate(bos: string, bosId: number): object {
  const special = (typeId: number): object => ({ SpecialToken: { id: bos, type_id: typeId } });
  const sequence = (id: string, typeId: number): object => ({ Sequence: { id, type_id: typeId } });
  return {
    type: 'TemplateProcessing',
    single: [special(0), sequence('A', 0)],
    pair: [special(0), sequence('A', 0), special(1), sequence('B', 1)],
    special_tokens: { [bos]: { id: bos, ids: [bosId], tokens: [bos] } },
  };
}

function listOf<T extends 'string' | 'number'>(
  metadata: GgufMetadata,
  file: string,
  key: string,
  kind: T,
  length: number | undefined,
): (T extends 'string' ? string : number)[] {
  const value = metadata.get(key);
  if (value === undefined && length !== undefined) return [];
  const ok =
    Array.isArray(value) &&
    value.every((v) => typeof v === kind) &&
    (length === undefined ? value.length > 0 : value.length === length);
  if (!ok)
    throw new CheckpointError(
      'bad-tokenizer',
      file,
      `${key} must be a list of ${kind}s${length === undefined ? '' : ` with ${length} entries (one per token)`}`,
    );
  return value as (T extends 'string' ? string : number)[];
}

function tokenIdOf(metadata: GgufMetadata, file: string, key: string, size: number): number | null {
  const value = metadata.get(key);
  if (value === undefined) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= size) {
    throw new CheckpointError('bad-tokenizer', file, `${key} is ${String(value)}; expected a token id below ${size}`);
  }
  return value;
}
