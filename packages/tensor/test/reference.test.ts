import { describe, expect, it } from 'vitest';
import {
  refApplyRope,
  refCausalAttention,
  refLinear,
  refRmsNorm,
  refSwiGluMlp,
  ShapeError,
} from '../src/reference/index.js';

// The references are what the ops are judged by, so they are checked against hand-computed values.
const f32 = (...v: number[]) => Float32Array.from(v);

describe('reference implementations, by hand', () => {
  it('refLinear: x·Wᵀ + b', () => {
    const out = refLinear(f32(1, 2), f32(1, 0, 0, 1, 1, 1), f32(0.5, 0, -1), { rows: 1, inDim: 2, outDim: 3 });
    expect(Array.from(out)).toEqual([1.5, 2, 2]);
  });

  it('refRmsNorm: [3, 4] has mean square 12.5', () => {
    const out = refRmsNorm(f32(3, 4), f32(1, 2), 0, { rows: 1, dim: 2 });
    expect(out[0]).toBeCloseTo(3 / Math.sqrt(12.5), 6);
    expect(out[1]).toBeCloseTo((4 / Math.sqrt(12.5)) * 2, 6);
  });

  it('refApplyRope: identity at position 0, a quarter turn at angle π/2', () => {
    const dims = { tokens: 2, heads: 1, headDim: 2 };
    const out = refApplyRope(f32(1, 0, 1, 0), Int32Array.of(0, 1), f32(Math.PI / 2), dims);
    expect(out[0]).toBeCloseTo(1, 6);
    expect(out[1]).toBeCloseTo(0, 6);
    expect(out[2]).toBeCloseTo(0, 6); // (x1, x2) = (1, 0) → (cos, sin) = (0, 1)
    expect(out[3]).toBeCloseTo(1, 6);
  });

  it('refCausalAttention: zero queries average the visible values; both heads share kv head 0', () => {
    const dims = { tokens: 2, keys: 2, heads: 2, kvHeads: 1, headDim: 1, queryOffset: 0 };
    const out = refCausalAttention(f32(0, 0, 0, 0), f32(5, -5), f32(2, 4), dims);
    expect(Array.from(out)).toEqual([2, 2, 3, 3]); // row 0 sees v0; row 1 averages v0, v1
  });

  it('refCausalAttention: with an offset every query sees the whole cache', () => {
    const dims = { tokens: 1, keys: 3, heads: 1, kvHeads: 1, headDim: 1, queryOffset: 2 };
    const out = refCausalAttention(f32(0), f32(1, 2, 3), f32(3, 6, 9), dims);
    expect(out[0]).toBeCloseTo(6, 6);
  });

  it('refSwiGluMlp: down(silu(gate·x)·up·x)', () => {
    const out = refSwiGluMlp(f32(1), { gate: f32(1), up: f32(2), down: f32(3) }, { rows: 1, dim: 1, ffDim: 1 });
    expect(out[0]).toBeCloseTo((1 / (1 + Math.exp(-1))) * 2 * 3, 6);
  });

  it('names the argument whose length does not fit the shape', () => {
    expect(() => refLinear(f32(1, 2, 3), f32(1, 2), undefined, { rows: 1, inDim: 2, outDim: 1 })).toThrow(ShapeError);
    expect(() => refLinear(f32(1, 2, 3), f32(1, 2), undefined, { rows: 1, inDim: 2, outDim: 1 })).toThrow(
      /x has 3 elements/,
    );
  });
});
