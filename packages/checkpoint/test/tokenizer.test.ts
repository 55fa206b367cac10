import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ggufTokenizerJson,
  readGguf,
  tokenizerFromGguf,
  tokenizerFromHfJson,
  type GgufMetadata,
  type TextTokenizer,
} from '@recur/checkpoint';
import { openFileSource } from '@recur/checkpoint/node';
import { corpora, storiesDir, storiesGguf, storiesHf } from './stories.js';

const json = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, 'utf8'));

const edgeCases = [
  '',
  ' ',
  'a',
  'Hello world',
  ' leading space',
  'trailing space ',
  'multiple   spaces  between',
  'line one\nline two\n\n\nafter blank lines',
  'tab\there\r\nCRLF',
  'emoji 😀🎉 and flags 🇫🇷',
  'naïve café — “quotes” 日本語 Ελληνικά',
  '\u0000 control \u0007 chars',
  'byte-token lookalike <0x41>',
];

describe('tokenizer built from GGUF metadata vs the HF tokenizer.json (stories260K)', () => {
  let metadata: GgufMetadata;
  let fromGguf: TextTokenizer;
  let fromHf: TextTokenizer;
  beforeAll(async () => {
    const source = await openFileSource(storiesGguf);
    metadata = (await readGguf(source)).metadata;
    await source.close?.();
    fromGguf = tokenizerFromGguf(metadata, storiesGguf);
    fromHf = tokenizerFromHfJson(json(`${storiesHf}tokenizer.json`), json(`${storiesHf}tokenizer_config.json`));
  });

  it('builds the same tokenizer.json: vocab, merges, normalizer, decoder, specials', () => {
    const built = ggufTokenizerJson(metadata, 'stories260K.gguf').tokenizer;
    const file = json(`${storiesHf}tokenizer.json`);
    for (const key of ['added_tokens', 'normalizer', 'pre_tokenizer', 'post_processor', 'decoder'])
      expect(built[key], key).toEqual(file[key]);
    const model = built.model as { merges: [string, string][] };
    const fileModel = file.model as { merges: string[] };
    // The file uses the older "a b" merge strings; we emit [a, b] pairs (unambiguous with spaces).
    expect(model.merges.map((pair) => pair.join(' '))).toEqual(fileModel.merges);
    expect({ ...model, merges: [] }).toEqual({ ...fileModel, merges: [] });
  });

  it('agrees on ids, BOS/EOS and vocabulary size', () => {
    expect([fromGguf.bosId, fromGguf.eosId, fromGguf.vocabSize]).toEqual([1, 2, 512]);
    expect([fromHf.bosId, fromHf.eosId, fromHf.vocabSize]).toEqual([1, 2, 512]);
    expect(fromGguf.tokenToPiece(265)).toBe('▁the');
  });

  for (const [name, path] of Object.entries(corpora)) {
    it(`gives identical ids on the first 16 KiB of ${name}, and decodes back to the text`, () => {
      const text = new TextDecoder().decode(readFileSync(path).subarray(0, 16384));
      const ids = fromGguf.encode(text);
      expect(ids).toEqual(fromHf.encode(text));
      expect(ids[0]).toBe(1);
      expect(ids.length).toBeGreaterThan(2000);
      expect(fromGguf.decode(ids)).toBe(text);
      expect(fromHf.decode(ids)).toBe(text);
    });
  }

  it('gives identical ids on edge cases and round-trips them, with and without BOS', () => {
    for (const text of edgeCases) {
      for (const addBos of [true, false]) {
        const ids = fromGguf.encode(text, { addBos });
        expect(ids, JSON.stringify(text)).toEqual(fromHf.encode(text, { addBos }));
        expect(fromGguf.decode(ids), JSON.stringify(text)).toBe(text);
      }
    }
  });

  it('treats special-token text in the input as the special token, exactly as the HF tokenizer does', () => {
    const text = 'before <s> after';
    const ids = fromGguf.encode(text, { addBos: false });
    expect(ids).toEqual(fromHf.encode(text, { addBos: false }));
    expect(ids).toContain(1);
  });

  it('uses byte fallback for characters outside the vocabulary', () => {
    expect(fromGguf.encode('😀', { addBos: false }).map((id) => fromGguf.tokenToPiece(id))).toEqual([
      '▁',
      '<0xF0>',
      '<0x9F>',
      '<0x98>',
      '<0x80>',
    ]);
  });

  it('matches the reference prompt ids', () => {
    const reference = json(`${storiesDir}reference/logits_prompt.json`) as { prompt: string; ids: number[] };
    expect(fromGguf.encode(reference.prompt, { addBos: true })).toEqual(reference.ids);
  });
});
