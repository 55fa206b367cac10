import { describe, expect, it } from 'vitest';
import { argmax, checkSampling, SamplingError, SeededRandom, sampleToken, validateSampling } from '../src/index.js';

const logits = Float32Array.from([0.1, 2.5, -1, 2.4, 0]);

describe('sampleToken', () => {
  it('is argmax at temperature 0 and with top-k 1', () => {
    const random = new SeededRandom(1);
    expect(sampleToken(logits, { temperature: 0, topK: 0, topP: 1 }, random)).toBe(1);
    for (let i = 0; i < 20; i++) expect(sampleToken(logits, { temperature: 5, topK: 1, topP: 1 }, random)).toBe(1);
  });

  it('keeps only the nucleus under top-p', () => {
    const random = new SeededRandom(7);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(sampleToken(logits, { temperature: 1, topK: 0, topP: 0.8 }, random));
    expect([...seen].sort()).toEqual([1, 3]);
  });

  it('follows the tempered softmax distribution', () => {
    const random = new SeededRandom(11);
    const counts = [0, 0, 0, 0, 0];
    const n = 20000;
    for (let i = 0; i < n; i++) counts[sampleToken(logits, { temperature: 1, topK: 0, topP: 1 }, random)]! += 1;
    const z = Array.from(logits).reduce((s, v) => s + Math.exp(v), 0);
    Array.from(logits).forEach((v, i) => expect(Math.abs(counts[i]! / n - Math.exp(v) / z)).toBeLessThan(0.015));
  });

  it('is reproducible for a seed', () => {
    const draw = (seed: number) => {
      const random = new SeededRandom(seed);
      return Array.from({ length: 30 }, () => sampleToken(logits, { temperature: 1.5, topK: 0, topP: 1 }, random));
    };
    expect(draw(5)).toEqual(draw(5));
    expect(draw(5)).not.toEqual(draw(6));
  });

  it('argmax returns the first maximum', () => {
    expect(argmax([1, 3, 3, 2])).toBe(1);
  });
});

describe('validateSampling: one rule for CLI flags, server fields and generate()', () => {
  it('names the field as the caller does and states the rule', () => {
    expect(() => checkSampling('topP', 0, '--top-p', '"0"')).toThrow('--top-p must be a number > 0 and ≤ 1, got "0"');
    expect(() => checkSampling('temperature', 3, '"temperature"')).toThrow(
      '"temperature" must be a number ≥ 0 and ≤ 2, got 3',
    );
    expect(() => checkSampling('topK', 1.5, 'topK')).toThrow(SamplingError);
    expect(checkSampling('topP', 1, 'topP')).toBe(1);
  });

  it('seeds are the integers mulberry32 tells apart: [0, 2^32 − 1]', () => {
    for (const seed of [-5, 1e300, 2.5, 2 ** 32, Number.NaN])
      expect(() => validateSampling({ seed })).toThrow(/seed must be an integer ≥ 0 and ≤ 4294967295/);
    expect(() => validateSampling({ seed: 2 ** 32 - 1, temperature: 0, topK: 0, topP: 1 })).not.toThrow();
    expect(() => validateSampling({ seed: 7 }, () => '--seed')).not.toThrow();
  });
});
