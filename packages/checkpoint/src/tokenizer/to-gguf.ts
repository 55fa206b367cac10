import { CheckpointError } from '../errors.js';
import type { GgufMetadataEntry } from '../gguf/types.js';

/** llama.cpp token types. */
const tokenType = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

interface TokenizerJson {
  readonly added_tokens?: readonly { id: number; content: string; special?: boolean }[];
  readonly pre_tokenizer?: { type?: string; pretokenizers?: readonly { type?: string }[] } | null;
  readonly model?: {
    type?: string;
    vocab?: Record<string, number>;
    merges?: readonly (string | readonly [string, string])[];
    byte_fallback?: boolean;
    unk_token?: string | null;
  };
}

export interface SpecialTokenIds {
  readonly bosId: number | null;
  readonly eosId: number | null;
}

/**
 * `tokenizer.ggml.*` metadata from a Hugging Face tokenizer.json, for the two BPE kinds Recur
 * meets: SentencePiece-style (byte fallback, "▁" spaces → llama.cpp model "llama", merge order kept
 * as scores, score = −rank of the first merge that makes the token) and byte-level GPT-2-style
 * (→ model "gpt2", merges listed as they are).
 */
export function ggufTokenizerMetadata(json: TokenizerJson, file: string, ids: SpecialTokenIds): GgufMetadataEntry[] {
  const model = json.model;
  if (model?.type !== 'BPE' || !model.vocab)
    throw new CheckpointError(
      'unsupported-tokenizer',
      file,
      `only BPE tokenizers can be written to a GGUF (got ${model?.type ?? 'none'})`,
    );
  const tokens = tokensById(model.vocab, json.added_tokens ?? [], file);
  // tokenizer.json lists a merge as "a b" (older files) or ["a", "b"].
  const merges = (model.merges ?? []).map((m): readonly [string, string] =>
    typeof m === 'string' ? splitMerge(m) : m,
  );
  const special = new Set((json.added_tokens ?? []).filter((t) => t.special !== false).map((t) => t.id));
  const unkId = model.unk_token ? (model.vocab[model.unk_token] ?? null) : null;
  const types = tokens.map((token, id) =>
    id === unkId
      ? tokenType.unknown
      : special.has(id)
        ? tokenType.control
        : model.byte_fallback && /^<0x[0-9A-F]{2}>$/.test(token)
          ? tokenType.byte
          : tokenType.normal,
  );
  const entries: GgufMetadataEntry[] = [
    { key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: tokens },
    { key: 'tokenizer.ggml.token_type', type: 'array', itemType: 'int32', value: types },
  ];
  if (model.byte_fallback) {
    entries.unshift({ key: 'tokenizer.ggml.model', type: 'string', value: 'llama' });
    entries.push({
      key: 'tokenizer.ggml.scores',
      type: 'array',
      itemType: 'float32',
      value: mergeScores(tokens, merges),
    });
  } else {
    entries.unshift(
      { key: 'tokenizer.ggml.model', type: 'string', value: 'gpt2' },
      { key: 'tokenizer.ggml.pre', type: 'string', value: 'default' },
    );
    entries.push({
      key: 'tokenizer.ggml.merges',
      type: 'array',
      itemType: 'string',
      value: merges.map(([a, b]) => `${a} ${b}`),
    });
  }
  if (unkId !== null) entries.push({ key: 'tokenizer.ggml.unknown_token_id', type: 'uint32', value: unkId });
  if (ids.bosId !== null) entries.push({ key: 'tokenizer.ggml.bos_token_id', type: 'uint32', value: ids.bosId });
  if (ids.eosId !== null) entries.push({ key: 'tokenizer.ggml.eos_token_id', type: 'uint32', value: ids.eosId });
  return entries;
}

function tokensById(
  vocab: Record<string, number>,
  added: readonly { id: number; content: string }[],
  file: string,
): string[] {
  const tokens: string[] = [];
  for (const [token, id] of [...Object.entries(vocab), ...added.map((t) => [t.content, t.id] as const)])
    tokens[id] = token;
  for (let id = 0; id < tokens.length; id++) {
    if (tokens[id] === undefined)
      throw new CheckpointError(
        'bad-tokenizer',
        file,
        `token id ${id} has no token (ids must run 0..${tokens.length - 1})`,
      );
  }
  return tokens;
}

/** SentencePiece scores that reproduce a BPE merge order: the earlier a token is merged, the higher. */
function mergeScores(tokens: readonly string[], merges: readonly (readonly [string, string])[]): number[] {
  const rank = new Map<string, number>();
  merges.forEach(([a, b], r) => {
    const joined = a + b;
    if (!rank.has(joined)) rank.set(joined, r);
  });
  return tokens.map((token) => -(rank.get(token) ?? 0));
}

function splitMerge(merge: string): [string, string] {
  const space = merge.indexOf(' ', 1);
  return [merge.slice(0, space), merge.slice(space + 1)];
}
