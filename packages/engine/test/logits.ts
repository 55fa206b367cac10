import type { LoadedModel } from '../src/index.js';
import { readReference, type LogitsReference } from './stories260k.js';

/** The reference prompt and its golden logits (../shared). */
export const ref = readReference<LogitsReference>('logits_prompt.json');

/** Logits [T·V] of a model on the reference prompt. */
export function promptLogits(model: LoadedModel): Float32Array {
  const out = model.decoder.forward(ref.ids);
  const data = out.dataSync() as Float32Array;
  out.dispose();
  return data;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** The largest |value|: tolerances for float32 re-orderings scale with it. */
export function maxAbs(values: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(values[i]!));
  return worst;
}
