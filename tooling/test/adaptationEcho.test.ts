import { describe, expect, it } from 'vitest';
import * as echo from '../experiments/adaptation/echo.mjs';

interface Section {
  name: string;
  title: string;
  run: unknown;
  render(result: unknown): string;
}
const section = echo as unknown as Section;

/** A result as run() returns it: an empty auto plan and a recovered explicit one. */
const result = {
  source: '../shared/models/stories260K/hf',
  budgets: {
    heldChars: 30000,
    trainChars: 200000,
    steps: 40,
    batch: 8,
    seq: 64,
    echoWindows: 2,
    prefill: 64,
    decode: 32,
    repeats: 2,
  },
  threshold: 0.6,
  window: 64,
  sourcePerplexity: 8,
  variants: [
    {
      name: 'auto',
      spec: 'auto',
      threshold: 0.6,
      reuse: [],
      parameters: { source: 260032, echo: 260032 },
      skipped: 'the plan is empty',
    },
    {
      name: 'explicit',
      spec: '3<-2,4<-2',
      reuse: [
        { step: 3, source: 2 },
        { step: 4, source: 2 },
      ],
      parameters: { source: 260032, echo: 247744 },
      model: '/tmp/x/model',
      perplexity: { before: 14, after: 10 },
    },
  ],
  speed: [
    {
      name: 'source',
      parameters: 260032,
      prefillTokensPerCpuSecond: 1000,
      decodeTokensPerCpuSecond: 500,
      prefillTokensPerSecond: 900,
      decodeTokensPerSecond: 400,
    },
    {
      name: 'explicit',
      parameters: 247744,
      prefillTokensPerCpuSecond: 1100,
      decodeTokensPerCpuSecond: 550,
      prefillTokensPerSecond: 950,
      decodeTokensPerSecond: 420,
    },
  ],
};

describe('adaptation section `echo`', () => {
  it('exports the section shape (name = file name, title, run, render)', () => {
    expect(section.name).toBe('echo');
    expect(section.title).toMatch(/EchoAtt/);
    expect(typeof section.run).toBe('function');
  });

  it('render() computes its readings from the result', () => {
    const md = section.render(result);
    // (14 − 10) / (14 − 8) recovered; 1100/1000 and 550/500 speed ratios; 10/8 still degraded
    expect(md).toContain('| explicit | `3<-2,4<-2` | 12,288 | 14.00 | 10.00 | 67% | 1.10× | 1.10× |');
    expect(md).toContain("still 1.25× the source's perplexity");
    expect(md).toContain('the plan is empty');
  });
});
