import { describe, expect, it } from 'vitest';
import { ropeInverseFrequencies } from '../src/index.js';

// headDim 8, theta 10000: theta^(-2i/8) = 10^(-i) exactly, so every case below is checkable by hand.
const base = { headDim: 8, theta: 10_000 };

describe('ropeInverseFrequencies', () => {
  it('plain RoPE: theta^(-2i/headDim)', () => {
    expect(Array.from(ropeInverseFrequencies({ ...base, scaling: null }))).toEqual(
      Array.from(Float32Array.of(1, 0.1, 0.01, 0.001)),
    );
  });

  it('linear scaling divides every frequency by the factor', () => {
    const got = ropeInverseFrequencies({ ...base, scaling: { type: 'linear', factor: 4 } });
    expect(Array.from(got)).toEqual(Array.from(Float32Array.of(0.25, 0.025, 0.0025, 0.00025)));
  });

  it('llama3 scaling keeps short wavelengths, slows long ones, smooths between', () => {
    // original context 1024, low 1, high 4 → wavelengths above 1024 are slowed by 8, below 256 kept.
    // Wavelengths 2π/f: 6.28 (keep), 62.8 (keep), 628.3 (smooth), 6283 (÷8).
    // Smooth band: s = (1024 / 628.3185 − 1) / (4 − 1) = 0.2099157; f = 0.01·((1 − s)/8 + s) = 0.00308676.
    const got = ropeInverseFrequencies({
      ...base,
      scaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 1024 },
    });
    expect(got[0]).toBe(1);
    expect(got[1]).toBe(Math.fround(0.1));
    expect(got[2]).toBeCloseTo(0.00308676, 8);
    expect(got[3]).toBe(Math.fround(0.000125));
  });

  it('llama3 with Llama 3.1 settings leaves short wavelengths alone and divides the longest by 8', () => {
    const got = ropeInverseFrequencies({
      headDim: 128,
      theta: 500_000,
      scaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
    });
    expect(got.length).toBe(64);
    expect(got[0]).toBe(1);
    const plainLast = 500_000 ** (-126 / 128); // wavelength ≈ 2.6e6 > 8192
    expect(got[63]).toBeCloseTo(plainLast / 8, 12);
  });

  it('rejects an odd head dimension', () => {
    expect(() => ropeInverseFrequencies({ headDim: 7, theta: 10_000, scaling: null })).toThrow(/even/);
  });
});
