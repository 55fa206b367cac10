import type { HfTokenizerFiles } from '@recur/checkpoint';
import type { BpeModel } from './trainBpe.js';

const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };

/**
 * tokenizer.json + tokenizer_config.json contents for a byte-level BPE: ByteLevel pre-tokenizer (GPT-2
 * split regex, no added prefix space, so decode(encode(x)) == x for every string) and decoder, special
 * tokens as added tokens, and a `<s> $A` template so loaders that read BOS from the post-processor find it.
 * Assumes the Llama-style `<s>`/`</s>`/`<unk>` names when present; other specials are plain added tokens.
 */
export function bpeTokenizerFiles(model: BpeModel): HfTokenizerFiles {
  const has = (t: string): boolean => model.specialTokens.includes(t);
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: model.specialTokens.map((content) => addedToken(content, model.vocab.indexOf(content))),
    normalizer: null,
    pre_tokenizer: BYTE_LEVEL,
    post_processor: has('<s>') ? bosTemplate(model.vocab.indexOf('<s>')) : null,
    decoder: BYTE_LEVEL,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: has('<unk>') ? '<unk>' : null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(model.vocab.map((token, id) => [token, id])),
      // Byte-level tokens never contain U+0020, so the classic "left right" string form is unambiguous.
      merges: model.merges.map(([l, r]) => `${l} ${r}`),
    },
  };
  const config = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: has('<s>') ? '<s>' : null,
    eos_token: has('</s>') ? '</s>' : null,
    unk_token: has('<unk>') ? '<unk>' : null,
    add_bos_token: has('<s>'),
    clean_up_tokenization_spaces: false,
  };
  return { tokenizer, config };
}

function addedToken(content: string, id: number): Record<string, unknown> {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

function bosTemplate(bosId: number): Record<string, unknown> {
  const bos = { SpecialToken: { id: '<s>', type_id: 0 } };
  return {
    type: 'TemplateProcessing',
    single: [bos, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [
      bos,
      { Sequence: { id: 'A', type_id: 0 } },
      { SpecialToken: { id: '<s>', type_id: 1 } },
      { Sequence: { id: 'B', type_id: 1 } },
    ],
    special_tokens: { '<s>': { id: '<s>', ids: [bosId], tokens: ['<s>'] } },
  };
}
