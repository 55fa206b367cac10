import { describe, expect, it } from 'vitest';
import { autoEchoPlan, EchoPlanError, echoPlanText, parseEchoPlan } from '../src/index.js';

describe('EchoAtt plans', () => {
  it('parses STEP<-SOURCE lists and refuses anything else', () => {
    expect(parseEchoPlan('3<-2, 4<-2')).toEqual([
      { step: 3, source: 2 },
      { step: 4, source: 2 },
    ]);
    expect(echoPlanText(parseEchoPlan('3<-2,4<-2'))).toBe('3<-2,4<-2');
    for (const bad of ['', '3', '3<2', 'a<-1', '3<--2']) expect(() => parseEchoPlan(bad)).toThrow(EchoPlanError);
  });

  it('auto: inner steps reuse the most similar earlier computing step at or above the threshold', () => {
    // Steps 1–3 attend alike; step 2 is closest to step 1; the last step always computes its own maps.
    const sim = [
      [1, 0.5, 0.4, 0.3, 0.95],
      [0.5, 1, 0.97, 0.92, 0.95],
      [0.4, 0.97, 1, 0.99, 0.95],
      [0.3, 0.92, 0.99, 1, 0.95],
      [0.95, 0.95, 0.95, 0.95, 1],
    ];
    // Step 3 cannot take step 2 (a reuser), so it reuses step 1 (0.92 ≥ 0.9).
    expect(autoEchoPlan(sim)).toEqual([
      { step: 2, source: 1 },
      { step: 3, source: 1 },
    ]);
    expect(autoEchoPlan(sim, 0.95)).toEqual([{ step: 2, source: 1 }]);
    expect(autoEchoPlan(sim, 1.01)).toEqual([]);
  });
});
