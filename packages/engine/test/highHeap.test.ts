import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { disposeModel, tokenRunner } from '../src/index.js';
import { convertToFolder, loadModel } from '../src/node/index.js';
import { hfPath } from './stories260k.js';

const dir = mkdtempSync(join(tmpdir(), 'recur-high-heap-'));
const out = join(dir, 'converted');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function greedy(): Promise<number[]> {
  const model = await loadModel(out);
  const runner = await tokenRunner(model, undefined, 64);
  expect(runner.path).toBe('fast');
  const ids: number[] = [];
  let logits = await runner.next([1, 400, 500]);
  for (let i = 0; i < 16; i++) {
    const next = logits.indexOf(Math.max(...logits));
    ids.push(next);
    logits = await runner.next([next]);
  }
  runner.dispose();
  disposeModel(model);
  return ids;
}

/**
 * A 1B-shape model puts the weights past 2 GiB of the wasm heap: byte offsets there must be shifted
 * unsigned (`>>> 2`); a signed `>> 2` made them negative ("offset is out of bounds" in the LoRA upload).
 * 2.25 GiB of filler tensors put a converted stories260K (LoRA, per-loop norms) up there.
 */
it('runs the fast path of a LoRA model that lies past 2 GiB of the wasm heap, tokens as below it', async () => {
  await initBackend();
  await convertToFolder(hfPath, out, {
    loops: 2,
    strategy: 'cycle',
    init: 'average',
    ranks: { attention: 4, mlp: 4 },
    loraInit: 'svd',
    norms: 'per-loop',
  });
  const low = await greedy();
  const chunk = 64 * 2 ** 20;
  const filler = Array.from({ length: 9 }, () => tf.zeros([chunk])); // 2.25 GiB below the model
  const high = await greedy();
  for (const t of filler) t.dispose();
  expect(high).toEqual(low);
}, 600_000);
