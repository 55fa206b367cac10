import type { AdaptedModule, LayerAdapter, LayerCall, NormName } from '@recur/graph';
import { tf } from '@recur/tensor';
import { DepthwiseLora } from './depthwiseLora.js';
import { LoraError } from './init.js';

const FACTOR = /\.lora_([AB])\.loop\d+\.weight$/;

/**
 * Several adapters as one whose delta is the sum of theirs. Summing LoRA deltas is exact as a rank
 * concatenation: Σᵢ sᵢ·Bᵢ·Aᵢ = [s₁B₁ … sₙBₙ] · [A₁; …; Aₙ], so the result has scale 1, A [Σr, in] and
 * B [out, Σr], and every executor (tfjs Decoder, fast path, merge) runs it unchanged. Per-loop norms are
 * not deltas: the first adapter that has one for a slot keeps it (a converted model's own LoRA goes first).
 * Other ways to combine adapters (learned scales, gates) are not sums and do not belong here.
 * The inputs stay with their owner; the result owns new tensors.
 */
export function sumLoras(loras: readonly DepthwiseLora[]): DepthwiseLora {
  if (loras.length === 0) throw new LoraError('sumLoras needs at least one adapter');
  const factors = new Map<string, { a: tf.Tensor[]; b: tf.Tensor[] }>();
  const norms = new Map<string, tf.Tensor>();
  const scaled: tf.Tensor[] = []; // temporaries s·B, freed once concatenated
  for (const lora of loras) {
    for (const [key, tensor] of lora.tensors) {
      const match = FACTOR.exec(key);
      if (!match) {
        if (!norms.has(key)) norms.set(key, tensor);
        continue;
      }
      if (match[1] !== 'A') continue;
      const bKey = key.replace('.lora_A.', '.lora_B.');
      const b = lora.tensors.get(bKey);
      if (!b) throw new LoraError(`adapter tensor ${key} has no matching ${bKey}`);
      const entry = factors.get(key) ?? { a: [], b: [] };
      entry.a.push(tensor); // [r, in]
      const sb = lora.scale === 1 ? b : tf.mul(b, lora.scale); // [out, r]
      if (sb !== b) scaled.push(sb);
      entry.b.push(sb);
      factors.set(key, entry);
    }
  }
  const out = new Map<string, tf.Tensor>();
  for (const [aKey, { a, b }] of factors) {
    checkWidths(aKey, a, b);
    out.set(aKey, a.length === 1 ? tf.clone(a[0]!) : tf.concat(a, 0)); // [Σr, in]
    out.set(aKey.replace('.lora_A.', '.lora_B.'), b.length === 1 ? tf.clone(b[0]!) : tf.concat(b, 1)); // [out, Σr]
  }
  for (const t of scaled) t.dispose();
  for (const [key, norm] of norms) out.set(key, tf.clone(norm));
  return new DepthwiseLora(out, 1);
}

function checkWidths(key: string, a: readonly tf.Tensor[], b: readonly tf.Tensor[]): void {
  const inputs = new Set(a.map((t) => t.shape[1]));
  const outputs = new Set(b.map((t) => t.shape[0]));
  if (inputs.size > 1 || outputs.size > 1)
    throw new LoraError(
      `adapters disagree on the shape of ${key.replace('.lora_A', '')}: inputs ${[...inputs].join('/')}, outputs ${[...outputs].join('/')}`,
    );
}

/**
 * Adapters applied one after another at every projection, so their deltas add (each `adapt` returns
 * y + its delta); norms come from the first that has one. What training a new LoRA on top of a frozen
 * one needs: the factors stay separate tensors, so gradients reach only the trained one's.
 */
export function stackAdapters(adapters: readonly LayerAdapter[]): LayerAdapter {
  return {
    adapt: (module: AdaptedModule, call: LayerCall, x: tf.Tensor2D, y: tf.Tensor2D) =>
      adapters.reduce((out, adapter) => adapter.adapt(module, call, x, out), y),
    norm: (name: NormName, call: LayerCall) => {
      for (const adapter of adapters) {
        const weight = adapter.norm?.(name, call);
        if (weight) return weight;
      }
      return undefined;
    },
  };
}
