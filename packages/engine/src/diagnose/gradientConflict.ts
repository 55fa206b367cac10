import { Decoder, layerWeightSpecs, type LayerAdapter } from '@recur/graph';
import { crossEntropy, tf } from '@recur/tensor';
import { registerGradients } from '@recur/train';
import type { LoadedModel } from '../model.js';

/**
 * The measurement behind Uni-X ("Uni-X: Mitigating Modality Conflict with a Two-End-Separated Architecture
 * for Unified Multimodal Models", Hao et al. 2025, arXiv 2509.24365): per stored layer, the cosine between
 * the gradients two domains' losses give that layer's weights. Near 1: the domains pull the layer the same
 * way; near 0 or negative: they conflict. The paper finds the conflict in the first and last layers.
 */
export interface LayerConflict {
  readonly layer: number;
  /** cos(g_A, g_B) over all the layer's weights; null where each domain has its own copy (separate ends). */
  readonly cosine: number | null;
}

/** cos(a, b) in float64 over several arrays read as one vector (0 when either is all zeros). */
export function gradientCosine(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  a.forEach((x, k) => {
    const y = b[k]!;
    if (y.length !== x.length) throw new RangeError(`gradient ${k}: ${x.length} values against ${y.length}`);
    for (let i = 0; i < x.length; i++) {
      dot += x[i]! * y[i]!;
      aa += x[i]! * x[i]!;
      bb += y[i]! * y[i]!;
    }
  });
  return aa === 0 || bb === 0 ? 0 : dot / Math.sqrt(aa * bb);
}

/**
 * Mean next-token loss gradient of every stored layer's weights over `windows` (ids, BOS first),
 * by weight key. The model's tensors are read, not changed.
 */
export function layerGradients(
  decoder: Decoder,
  adapter: LayerAdapter | undefined,
  windows: readonly (readonly number[])[],
): Map<string, Float32Array> {
  registerGradients();
  const keys = Array.from({ length: decoder.config.numLayers }, (_, l) =>
    layerWeightSpecs(decoder.config, l).map((s) => s.name),
  ).flat();
  const sums = new Map(keys.map((k) => [k, new Float32Array(decoder.weights.get(k)!.size)]));
  for (const window of windows) {
    const grads = tf.tidy(() => {
      const loss = (...weights: tf.Tensor[]): tf.Scalar => {
        const map = new Map(decoder.weights);
        keys.forEach((k, i) => map.set(k, weights[i]!));
        const d = new Decoder(decoder.config, map, adapter ? { adapter } : {});
        const logits = d.forward(window.slice(0, -1)); // [T, V]
        return crossEntropy(logits, Int32Array.from(window.slice(1)));
      };
      return tf.grads(loss)(keys.map((k) => decoder.weights.get(k)!));
    });
    keys.forEach((k, i) => {
      const g = grads[i]!.dataSync();
      const sum = sums.get(k)!;
      for (let j = 0; j < sum.length; j++) sum[j]! += g[j]! / windows.length;
    });
    tf.dispose(grads);
  }
  return sums;
}

/**
 * Per stored layer, cos(g_A, g_B) of domain A's windows on `a` and domain B's on `b`. Pass the same
 * model twice for shared ends; pass one model per domain (loaded with --domain) for separate ends:
 * the layers listed in `separate` then report null (no parameter is shared, so nothing conflicts).
 */
export function gradientConflict(
  a: Pick<LoadedModel, 'decoder' | 'lora'>,
  b: Pick<LoadedModel, 'decoder' | 'lora'>,
  windowsA: readonly (readonly number[])[],
  windowsB: readonly (readonly number[])[],
  separate: readonly number[] = [],
): LayerConflict[] {
  const ga = layerGradients(a.decoder, a.lora, windowsA);
  const gb = layerGradients(b.decoder, b.lora, windowsB);
  return Array.from({ length: a.decoder.config.numLayers }, (_, layer) => {
    if (separate.includes(layer)) return { layer, cosine: null };
    const keys = layerWeightSpecs(a.decoder.config, layer).map((s) => s.name);
    return {
      layer,
      cosine: gradientCosine(
        keys.map((k) => ga.get(k)!),
        keys.map((k) => gb.get(k)!),
      ),
    };
  });
}
