import type { Tokenizer } from '@huggingface/tokenizers';
import { CheckpointError } from '../errors.js';
import { wrapTokenizer, type SpecialIds, type TextTokenizer } from './text-tokenizer.js';

/**
 * A tokenizer from the contents of tokenizer.json and (optionally) tokenizer_config.json, which
 * names the BOS/EOS tokens. Without a config, BOS is taken from the post-processor template.
 */
export function tokenizerFromHfJson(
  tokenizerJson: unknown,
  tokenizerConfig?: unknown,
  file = 'tokenizer.json',
): TextTokenizer {
  if (!isObject(tokenizerJson) || !isObject(tokenizerJson.model)) {
    throw new CheckpointError('bad-tokenizer', file, 'tokenizer.json must be an object with a "model"');
  }
  const config = isObject(tokenizerConfig) ? tokenizerConfig : {};
  // The library cleans up " ." → "." unless told otherwise, which breaks decode(encode(x)) == x.
  const libraryConfig = { ...config, clean_up_tokenization_spaces: config.clean_up_tokenization_spaces ?? false };
  return wrapTokenizer(file, tokenizerJson, libraryConfig, (t) => specialIds(t, tokenizerJson, config));
}

function specialIds(t: Tokenizer, json: Record<string, unknown>, config: Record<string, unknown>): SpecialIds {
  const id = (token: unknown): number | null => {
    const content = isObject(token) ? token.content : token;
    return typeof content === 'string' ? (t.token_to_id(content) ?? null) : null;
  };
  if ('bos_token' in config || 'eos_token' in config)
    return { bosId: id(config.bos_token), eosId: id(config.eos_token) };
  return { bosId: templateBos(json.post_processor), eosId: id('</s>') };
}

/** The first special token of a TemplateProcessing `single` template, e.g. `<s>` → 1. */
function templateBos(postProcessor: unknown): number | null {
  if (!isObject(postProcessor) || !Array.isArray(postProcessor.single) || !isObject(postProcessor.special_tokens))
    return null;
  const first: unknown = postProcessor.single[0];
  if (!isObject(first) || !isObject(first.SpecialToken)) return null;
  const name = first.SpecialToken.id;
  const entry = typeof name === 'string' ? postProcessor.special_tokens[name] : undefined;
  const ids = isObject(entry) ? entry.ids : undefined;
  return Array.isArray(ids) && typeof ids[0] === 'number' ? ids[0] : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
