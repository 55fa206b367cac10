// Absolute paths inside text that a results doc quotes (a CLI's error message names the folder it read) made
// relative to the repo root they were produced under: a doc must not carry the worktree or machine it ran on.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** This checkout's top-level names (models, packages, .cache, …): where a repo-relative part of a path starts. */
const topLevel = new Set(readdirSync(fileURLToPath(new URL('../../', import.meta.url))));

/** An absolute path in running text: from a "/" not inside a word or URL up to a space, quote, colon or bracket. */
const absolutePath = /(?<![\w./:-])\/(?!\/)[^\s"'“”‘’`:;,()[\]]+/g;

/**
 * `text` with every absolute path cut at its first repo-relative part: the first component after the root
 * that is `..` (a sibling of the checkout, such as ../shared) or one of the checkout's top-level names. The
 * root it was produced under need not be this checkout (a results json written in another worktree):
 * `/work/wt-x/../shared/models/m` → `../shared/models/m`, `/work/wt-x/models/default` → `models/default`.
 * A path with no such part (a temp folder) is left as it is.
 * @param {string} text @param {ReadonlySet<string>} [entries] top-level names (default: this checkout's)
 * @returns {string}
 */
export function repoRelative(text, entries = topLevel) {
  return text.replace(absolutePath, (path) => {
    const parts = path.split('/');
    // parts[0] is '' (the leading /) and parts[1] the first directory: a root is at least one component deep
    const start = parts.findIndex((part, i) => i >= 2 && (part === '..' || entries.has(part)));
    return start < 0 ? path : parts.slice(start).join('/');
  });
}
