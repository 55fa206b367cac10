import { describe, expect, it } from 'vitest';
import { readings } from '../experiments/uptrainingReadings.mjs';

type Rank = number | 'full';

/** One synthetic run of the grid: per-loop perplexities after conversion and after uptraining. */
function run(loops: number, init: string, rank: Rank, seed: number, after: number[], start?: number[]) {
  return {
    config: { loops, init, rank, seed, tokens: 5_000_000 },
    key: `mc${loops}-${init}-r${rank}-seed${seed}`,
    trainedTokens: 5_001_216,
    tokensPerSecond: 4000,
    sourceLayers: loops === 3 ? [0, 1, 2, 3, 4] : [0, 1, 3, 4],
    perplexityPerLoop: { afterConversion: start ?? after.map((p) => p * 10), afterUptraining: after },
  };
}

const original = 5;
const data = {
  original: { perplexity: original },
  runs: [
    run(2, 'average', 8, 0, [6.3, 6]),
    run(2, 'average', 0, 0, [6.5, 6.6]),
    run(2, 'average', 16, 0, [6.2, 5.9]),
    run(2, 'average', 'full', 0, [6, 5.8]),
    run(2, 'lower', 8, 0, [6.4, 6.3]),
    run(3, 'average', 8, 0, [6.5, 6.1, 5.7]),
    run(3, 'average', 'full', 0, [5.9, 5.7, 5.5], [9, 7, 5]),
  ],
  notRun: ['mc2-lower-r16-seed0'],
};

describe('uptraining readings', () => {
  const lines: string[] = readings(data);
  const line = (start: string) => lines.find((l) => l.startsWith(start)) ?? '';

  it('reads the three targets from the runs, naming the runs whose exits do not improve with depth', () => {
    expect(line('Target 1')).toContain('1.200× the original');
    expect(line('Target 1')).toContain('missed');
    expect(line('Target 2')).toContain('6.000 vs 6.600 — met (one seed only)');
    expect(line('Target 3')).toContain('6 of 7 runs');
    expect(line('Target 3')).toContain('×2 average r0 seed 0 (6.500 / 6.600)');
  });

  it('measures the corpus and objective alone on the control that starts as the original', () => {
    expect(line('Control')).toContain('starts at 5.000 (1.000× the original)');
    expect(line('Control')).toContain('to 5.500 (1.100×)');
    expect(line('Control')).toContain('by +10.0%');
    expect(line('Against the control')).toContain('1.091× (within 10%)');
    expect(line("Where target 1's gap goes")).toContain('multiplying to 1.200×');
    expect(line("Where target 1's gap goes")).toContain('uptraining itself 1.100×');
    expect(line("Where target 1's gap goes")).toContain('the layers ×2 leaves out 1.055×');
    expect(line("Where target 1's gap goes")).toContain('tying at rank 8 1.034×');
  });

  it('lays out the rank ladder, Lower against Average, ×3 against ×2, and what was not run', () => {
    expect(line('×2 average by LoRA rank')).toBe(
      '×2 average by LoRA rank: 0 → 6.600, 8 → 6.000, 16 → 5.900, full → 5.800 (1.160× the original at the highest rank run).',
    );
    expect(line('Lower / Average')).toContain('8: 1.050');
    expect(line('×3 / ×2')).toContain('8: 0.950');
    expect(line('×3 / ×2')).toContain('full: 0.948');
    expect(line('×3 / ×2')).toContain('×2 runs source layers 0, 1, 3, 4, ×3 runs 0, 1, 2, 3, 4');
    expect(line('Not run')).toContain('`mc2-lower-r16-seed0`');
  });
});
