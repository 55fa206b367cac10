import { adaptedModules } from '@recur/graph';
import { projectionShape } from './fresh.js';
import { depthwiseLoraStep, LoraError, sharedSteps, type ArrayTensor, type LoraInitOptions } from './init.js';
import type { ModuleShape } from './kindTypes.js';
import { generatedKind, type LoraKindSpec } from './generatedKinds.js';
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
  if (options.norms === 'per-loop') {
    // rank 0 everywhere: only the step's per-loop norms
    const base = { ...options, ranks: { attention: 0, mlp: 0 }, norms: 'per-loop' as const };
    for (const step of steps)
      for (const [key, norm] of depthwiseLoraStep(step, base, { drawn: 0, done: 0 })) out.set(key, norm);
  }
  return out;
}
