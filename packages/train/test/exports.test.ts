import { describe, expect, it } from 'vitest';
import * as train from '../src/index.js';

// Each name has one home: the op and the RNG live in @recur/tensor, the early-exit loss in @recur/router.
describe('@recur/train exports only what it owns', () => {
  it.each([
    ['crossEntropy', '@recur/tensor'],
    ['Mulberry32', '@recur/tensor'],
    ['earlyExitLoss', '@recur/router (perLoopCrossEntropy)'],
  ])('%s is not exported (it lives in %s)', (name) => {
    expect(Object.keys(train)).not.toContain(name);
  });
});
