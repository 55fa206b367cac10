import { describe, expect, it } from 'vitest';
import { Mulberry32 } from '../src/index.js';

// One seeded generator for training data and sampling alike: these values are the ones training runs
// and `--seed` samples have always drawn, so moving it must not change them.
describe('Mulberry32', () => {
  it('draws the same uniforms for a seed as before the move', () => {
    const rng = new Mulberry32(42);
    expect([rng.next(), rng.next(), rng.next()]).toEqual([0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
    expect(rng.state).toBe(1199730185);
  });

  it('resumes from its one-number state and keeps only 32 bits of the seed', () => {
    const rng = new Mulberry32(9);
    rng.next();
    const resumed = new Mulberry32(rng.state);
    expect(resumed.next()).toBe(rng.next());
    expect(new Mulberry32(2 ** 32 + 7).next()).toBe(new Mulberry32(7).next());
  });

  it('nextInt(n) stays in [0, n)', () => {
    const rng = new Mulberry32(1);
    expect(Array.from({ length: 8 }, () => rng.nextInt(10))).toEqual([6, 0, 5, 9, 9, 2, 6, 7]);
  });
});
