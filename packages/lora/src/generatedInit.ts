import { adaptedModules, type LayerStep } from '@recur/graph';
import { projectionShape } from './fresh.js';
import { depthwiseLoraStep, LoraError, sharedSteps, type ArrayTensor, type LoraInitOptions } from './init.js';
import type { ModuleShape } from './kindTypes.js';
import { generatedKind, type LoraKindSpec } from './generatedKinds.js';
import { fitGenerator } from './hyperFit.js';
import { generatorKey, loopEmbeddingKey, positionEmbeddingKey } from './hyperLora.js';
import { loraKey } from './keys.js';
import { rankFor } from './ranks.js';

/** Depth-wise LoRA's init options (the same plan, weights, ranks and norms) plus the kind to make. */
export interface GeneratedInitOptions extends Omit<LoraInitOptions, 'onProgress'> {
  readonly spec: LoraKindSpec;
}

/** The stored tensors a `hyper` or `scaled` conversion starts from, with per-loop norms as depth-wise LoRA's. */
export function initGeneratedLora(options: GeneratedInitOptions): Map<string, ArrayTensor> {
  const kind = generatedKind(options.spec);
  if (!kind) throw new LoraError(`initGeneratedLora: ${options.spec.kind} LoRA is not generated`);
  const shapes: ModuleShape[] = adaptedModules.map((module) => {
    const [rows, cols] = projectionShape(options.sourceConfig, module);
    const rank = rankFor(options.ranks, module, [rows, cols]);
    if (!Number.isInteger(rank) || rank < 0 || rank > Math.min(rows, cols))
      throw new LoraError(
        `LoRA rank ${rank} does not fit ${module} [${rows}, ${cols}] (at most ${Math.min(rows, cols)})`,
      );
    return { module, rows, cols, rank };
  });
  const steps = sharedSteps(options.plan);
  const out = kind.init(
    {
      steps,
      loops: options.plan.loops,
      source: options.source,
      shared: options.shared,
      init: options.init,
      hyperDim: options.spec.kind === 'hyper' ? options.spec.hyperDim : 0,
      seed: options.seed ?? 0,
    },
    shapes,
  );
  if (options.spec.kind === 'hyper' && options.init === 'svd') fitHyperToSvd(out, steps, options, shapes);
  if (options.norms === 'per-loop') {
    // rank 0 everywhere: only the step's per-loop norms
    const base = { ...options, ranks: { attention: 0, mlp: 0 }, norms: 'per-loop' as const };
    for (const step of steps)
      for (const [key, norm] of depthwiseLoraStep(step, base, { drawn: 0, done: 0 })) out.set(key, norm);
  }
  return out;
}

/**
 * hyper with `--lora-init svd`: each module's generators are refitted (least squares in float64,
 * `fitGenerator`) so that every step's generated A and B are its depth-wise SVD factors — exactly, where
 * the steps are no more than 2H (their embeddings, drawn at random, are then independent) — instead of
 * G_B = 0 (the tied model). The embeddings stay as drawn; the fit is of A and B separately, so with more
 * steps than 2H it fits each factor, not their product.
 */
function fitHyperToSvd(
  out: Map<string, ArrayTensor>,
  steps: readonly LayerStep[],
  options: GeneratedInitOptions,
  shapes: readonly ModuleShape[],
): void {
  const loops = out.get(loopEmbeddingKey)!; // [loops, H]
  const width = loops.shape[1]!;
  const embeddings = steps.map((s) =>
    Float64Array.from([
      ...loops.data.subarray(s.loop * width, (s.loop + 1) * width),
      ...out.get(positionEmbeddingKey(s.unique))!.data,
    ]),
  ); // per step e [2H]
  const svd = { ...options, init: 'svd' as const, norms: 'tied' as const };
  const targets = steps.map((s) => depthwiseLoraStep(s, svd, { drawn: 0, done: 0 }));
  for (const { module, rank } of shapes) {
    if (rank === 0) continue;
    for (const factor of ['A', 'B'] as const) {
      const key = generatorKey(module, factor);
      const perStep = steps.map((s, k) =>
        Float64Array.from(targets[k]!.get(loraKey(s.unique, module, s.loop, factor))!.data),
      );
      out.set(key, { data: Float32Array.from(fitGenerator(perStep, embeddings)), shape: out.get(key)!.shape });
    }
  }
}
