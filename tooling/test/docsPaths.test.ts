import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderSharing } from '../experiments/sharingReport.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('results docs name no machine folders', () => {
  it('the sharing report quotes a MASA refusal without the worktree it ran in', () => {
    const sharing = JSON.parse(readFileSync(join(root, 'docs/results/sharing.json'), 'utf8'));
    const masaLooped = {
      masaOfLooped: '/work/wt-elsewhere/models/default: --sharing masa converts a plain model',
      loopedOfMasa: null,
    };
    const text = renderSharing({ ...sharing, models: sharing.models.map((m: object) => ({ ...m, masaLooped })) });
    expect(text).toContain('refused: “--sharing masa converts a plain model”');
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
