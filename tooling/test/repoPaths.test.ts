import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { repoRelative } from '../experiments/repoPaths.mjs';
import { renderSharing } from '../experiments/sharingReport.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const entries = new Set(['models', 'packages', '.cache']);

describe('repoRelative: results docs quote paths relative to the repo root they were produced under', () => {
  it.each([
    ['/work/wt-a/../shared/models/stories260K/hf: refused', '../shared/models/stories260K/hf: refused'],
    ['“/work/wt-b/models/default: not plain”', '“models/default: not plain”'],
    [
      'at /home/me/src/recur/.cache/runs/x/model and /work/main/packages/engine',
      'at .cache/runs/x/model and packages/engine',
    ],
    ['a temp folder /tmp/recur-xyz/out stays as it is', 'a temp folder /tmp/recur-xyz/out stays as it is'],
    [
      'no path, a ratio 3/4 and a URL https://example.org/models/x',
      'no path, a ratio 3/4 and a URL https://example.org/models/x',
    ],
  ])('%s', (text, expected) => {
    expect(repoRelative(text, entries)).toBe(expected);
  });

  it('the sharing report quotes a MASA refusal without the worktree it ran in', () => {
    const sharing = JSON.parse(readFileSync(join(root, 'docs/results/sharing.json'), 'utf8'));
    const masaLooped = {
      masaOfLooped: '/work/wt-elsewhere/models/default: --sharing masa converts a plain model',
      loopedOfMasa: null,
    };
    const text = renderSharing({ ...sharing, models: sharing.models.map((m: object) => ({ ...m, masaLooped })) });
    expect(text).toContain('refused: “models/default: --sharing masa converts a plain model”');
    expect(text).not.toContain('/work/');
  });

  it('no committed results or docs page carries a machine path (/work/, /tmp/)', () => {
    const pages = [
      ...readdirSync(join(root, 'docs/results')).map((f) => `docs/results/${f}`),
      ...readdirSync(join(root, 'docs')).map((f) => `docs/${f}`),
    ].filter((f) => f.endsWith('.md'));
    const offending = pages.filter((f) => /\/work\/|\/tmp\//.test(readFileSync(join(root, f), 'utf8')));
    expect(offending).toEqual([]);
  });
});
