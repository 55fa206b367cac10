import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fakeEngineLoop } from '../examples/fakeEngineLoop.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README example', () => {
  it('is the example file verbatim and prints the trace the README shows', () => {
    const source = readFileSync(new URL('../examples/fakeEngineLoop.ts', import.meta.url), 'utf8');
    expect(readme).toContain(source.trim());
    const trace = fakeEngineLoop();
    expect(readme).toContain(trace.join('\n'));
  });
});
