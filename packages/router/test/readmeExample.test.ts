import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import {
  expertRouterPrefix,
  initScalarRouter,
  routerTensors,
  routerZLoss,
  runExpertChoice,
  selectionBceLoss,
  theoreticalKvRatio,
} from '../src/index.js';

const dedent = (lines: string[]): string =>
  lines
    .map((l) => l.replace(/^ {4}/, ''))
    .join('\n')
    .trim();

describe('README example', () => {
  beforeAll(() => initBackend()); // so the leak count can start before the example
  it('runs, and the README shows it verbatim', async () => {
    const start = tf.memory().numTensors;
    // the example prints; the test stays quiet
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    // example:start
    await initBackend();
    const d = 16;
    const numRecursions = 3;
    // One linear router per recursion, keys mor.routers.{r}.weight ([1, d]).
    const params = new Map<string, tf.Tensor>();
    for (let r = 0; r < numRecursions; r++) {
      for (const [key, t] of routerTensors(initScalarRouter(expertRouterPrefix(r), { hiddenSize: d, std: 1, seed: r })))
        params.set(key, t);
    }
    const h0 = tf.randomNormal<tf.Rank.R2>([12, d], 0, 1, 'float32', 7); // [T, d]
    // Stand-in for the shared block (its residual included), run on the selected rows only.
    const block = (hSel: tf.Tensor2D): tf.Tensor2D => tf.add(hSel, tf.tanh(hSel));
    let depths: Int32Array = new Int32Array(0);
    let aux = 0;
    tf.tidy(() => {
      const run = runExpertChoice(params, h0, block, { numRecursions }); // top-k, capacities 12, 8, 4
      depths = run.depths;
      const losses = run.decisions.map((dec) =>
        tf.add(selectionBceLoss(dec.logits, dec.selectedMask), routerZLoss(dec.logits)),
      );
      aux = tf.addN(losses).dataSync()[0] ?? NaN;
    });
    console.log([...depths], aux); // four tokens at each depth 1, 2, 3
    console.log(theoreticalKvRatio(numRecursions, 'recursionWise')); // 2/3 of a vanilla KV cache
    // example:end
    expect(log).toHaveBeenCalledTimes(2);
    log.mockRestore();
    expect([1, 2, 3].map((k) => depths.filter((x) => x === k).length)).toEqual([4, 4, 4]);
    expect(Number.isFinite(aux)).toBe(true);
    tf.dispose([h0, ...params.values()]);
    expect(tf.memory().numTensors).toBe(start);

    const source = readFileSync(new URL(import.meta.url), 'utf8').split('\n');
    const from = source.findIndex((l) => l.includes('// example:start'));
    const to = source.findIndex((l) => l.includes('// example:end'));
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(dedent(source.slice(from + 1, to)));
  });
});
