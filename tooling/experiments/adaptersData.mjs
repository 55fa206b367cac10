// The domains of pnpm experiment:adapters and their fixed splits: the held-out text is the END of each corpus
// (never trained on), the training text the start, both cut at a blank line so no document straddles them.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/** Domain name → corpus file under ../shared/corpora (read-only; the splits are written to the cache). */
export const domains = /** @type {const} */ ({
  tinystories: 'tinystories_val/tinystories_val.txt',
  shakespeare: 'tinyshakespeare/input.txt',
  wikitext: 'wikitext-2-raw/wiki.test.raw',
});

/** @typedef {keyof typeof domains} Domain */
/** @typedef {{ domain: Domain, trainFile: string, heldOut: string, trainBytes: number, heldOutBytes: number }} Split */

/**
 * The train and held-out split of every domain: `trainBytes` from the start into `<cache>/data`, `heldOutBytes`
 * from the end (kept in memory). Throws when the two would overlap.
 * @param {string} corpora @param {string} cache @param {{ trainBytes: number, heldOutBytes: number }} sizes
 * @returns {Record<Domain, Split>}
 */
export function domainSplits(corpora, cache, { trainBytes, heldOutBytes }) {
  mkdirSync(`${cache}/data`, { recursive: true });
  const entries = Object.entries(domains).map(([name, file]) => {
    const domain = /** @type {Domain} */ (name);
    const text = documentsOf(readFileSync(`${corpora}/${file}`, 'utf8'));
    const train = cutAtBlankLine(text.slice(0, trainBytes), 'end');
    const heldOut = cutAtBlankLine(text.slice(text.length - heldOutBytes), 'start');
    if (train.length + heldOut.length > text.length)
      throw new RangeError(`${file}: ${trainBytes} + ${heldOutBytes} bytes overlap (the corpus has ${text.length})`);
    const trainFile = `${cache}/data/${domain}-train-${trainBytes}.txt`;
    if (!existsSync(trainFile)) {
      writeFileSync(`${trainFile}.tmp`, train);
      renameSync(`${trainFile}.tmp`, trainFile);
    }
    return [domain, { domain, trainFile, heldOut, trainBytes: train.length, heldOutBytes: heldOut.length }];
  });
  return /** @type {Record<Domain, Split>} */ (Object.fromEntries(entries));
}

/**
 * The corpus as blank-line separated documents, as the trainer reads them: CRLF becomes LF, and a corpus without
 * blank lines (WikiText-2 raw here: one paragraph or heading per line) gets one document per non-empty line.
 */
function documentsOf(/** @type {string} */ raw) {
  const text = raw.replace(/\r\n?/g, '\n');
  if (/\n[ \t]*\n/.test(text)) return text;
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join('\n\n');
}

/** `text` up to its last blank line ('end') or from its first one ('start'), so a split holds whole documents. */
function cutAtBlankLine(/** @type {string} */ text, /** @type {'start' | 'end'} */ side) {
  // WikiText's blank lines hold a space: the trainer splits documents at /\n\s*\n/ too
  const breaks = [...text.matchAll(/\n[ \t]*\n/g)];
  const cut = side === 'end' ? breaks.at(-1) : breaks[0];
  if (!cut) return text;
  return side === 'end' ? text.slice(0, cut.index) : text.slice(cut.index + cut[0].length);
}
