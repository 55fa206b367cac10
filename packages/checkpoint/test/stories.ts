import { fileURLToPath } from 'node:url';

/** The shared real-model data (read-only, outside the repository). */
const root = new URL('../../../../shared/', import.meta.url);

export const storiesDir = fileURLToPath(new URL('models/stories260K/', root));
export const storiesHf = fileURLToPath(new URL('models/stories260K/hf/', root));
export const storiesGguf = fileURLToPath(new URL('models/stories260K/stories260K.gguf', root));
export const corpora = {
  tinystories: fileURLToPath(new URL('corpora/tinystories_val/tinystories_val.txt', root)),
  shakespeare: fileURLToPath(new URL('corpora/tinyshakespeare/input.txt', root)),
  wikitext: fileURLToPath(new URL('corpora/wikitext-2-raw/wiki.test.raw', root)),
};
