import type { AdaptedModule, LayerStep } from '@recur/graph';
import { gaussianArray, tf } from '@recur/tensor';
import { LoraError, type ArrayTensor } from './init.js';
import type { Factors, KindInitOptions, ModuleShape } from './kindTypes.js';

/**
 * Hypernetwork LoRA after Polyhistor ("Polyhistor: Parameter-Efficient Multi-Task Adaptation for Dense
 * Vision Tasks", Liu et al., NeurIPS 2022, arXiv 2210.03265): its decomposed hypernetworks generate each
 * layer's adapter from an embedding with a pair of small generators instead of one large one. Here the
 * embedding of a step is [loop embedding ; block-position embedding] (e [2H]) and, per module, one linear
 * generator makes LoRA A [r, in] and another makes B [out, r]: A = G_A·e, B = G_B·e. Each generator
 * has rank ≤ 2H, so every (position, loop) adapter lies in one 2H-dimensional family shared by all.
 */

/** Loop embeddings [loops, H], shared by every position and module. */
export const loopEmbeddingKey = 'model.lora_hyper.loop_embedding.weight';

/** A stored (shared) layer's position embedding [H]; only layers with adapters have one. */
export const positionEmbeddingKey = (unique: number): string =>
  `model.layers.${unique}.lora_hyper.position_embedding.weight`;

/** A module's generator of A [r, in, 2H] or of B [out, r, 2H], shared by every position and loop. */
export const generatorKey = (module: AdaptedModule, factor: 'A' | 'B'): string =>
  `model.lora_hyper.${module}.${factor}_generator.weight`;

/** Every hyper tensor has `.lora_hyper.` in its key. */
export const isHyperKey = (name: string): boolean => name.includes('.lora_hyper.');

/** The generated A [r, in] and B [out, r] of one (position, loop, module); undefined where none is stored. */
export function hyperFactors(
  tensors: ReadonlyMap<string, tf.Tensor>,
  unique: number,
  module: AdaptedModule,
  loop: number,
): Factors | undefined {
  const genA = tensors.get(generatorKey(module, 'A')); // [r, in, 2H]
  const genB = tensors.get(generatorKey(module, 'B')); // [out, r, 2H]
  const loops = tensors.get(loopEmbeddingKey); // [loops, H]
  const position = tensors.get(positionEmbeddingKey(unique)); // [H]
  if (!genA || !genB || !loops || !position || loop >= loops.shape[0]!) return undefined;
  const [r, inputs, width] = genA.shape as [number, number, number];
  const outputs = genB.shape[0]!;
  return tf.tidy(() => {
    const loopRow = tf.reshape(tf.slice(loops, [loop, 0], [1, -1]), [-1]); // [H]
    const e = tf.reshape(tf.concat([loopRow, position], 0), [width, 1]); // [2H, 1]
    const a = tf.reshape(tf.matMul(tf.reshape(genA, [r * inputs, width]), e), [r, inputs]) as tf.Tensor2D; // [r, in]
    const b = tf.reshape(tf.matMul(tf.reshape(genB, [outputs * r, width]), e), [outputs, r]) as tf.Tensor2D; // [out, r]
    return { a, b };
  });
}

/** Float64 reference of `hyperFactors` on plain arrays (generators flattened row-major as stored). */
export function hyperFactorsReference(
  genA: Float64Array,
  genB: Float64Array,
  loopRow: Float64Array,
  position: Float64Array,
  [outputs, r, inputs]: [number, number, number],
): { a: Float64Array; b: Float64Array } {
  const e = Float64Array.from([...loopRow, ...position]); // [2H]
  const apply = (gen: Float64Array, rows: number) =>
    Float64Array.from({ length: rows }, (_, i) => e.reduce((sum, ej, j) => sum + gen[i * e.length + j]! * ej, 0));
  return { a: apply(genA, r * inputs), b: apply(genB, outputs * r) };
}

/**
 * Initial hypernetwork: embeddings N(0, 1); G_A N(0, 1/(in·2H)), so a generated A has entries of
 * variance ≈ 1/in (as a fresh LoRA's); G_B = 0, so every generated B is zero and the converted model
 * starts equal to the tied one (gradients reach G_B at once and G_A, the embeddings after one step).
 * That is `--lora-init zero`; under `svd` initGeneratedLora then refits both generators to the
 * depth-wise SVD factors (generatedInit.ts).
 */
export function initHyperLora(options: KindInitOptions, shapes: readonly ModuleShape[]): Map<string, ArrayTensor> {
  const width = options.hyperDim;
  if (!Number.isInteger(width) || width < 1)
    throw new LoraError(`--hyper-dim must be an integer ≥ 1, got ${JSON.stringify(width)}`);
  let seed = (options.seed ?? 0) * 10_007 + 1;
  const out = new Map<string, ArrayTensor>();
  out.set(loopEmbeddingKey, { data: gaussianArray(options.loops * width, seed++), shape: [options.loops, width] });
  const positions = new Set(options.steps.map((s: LayerStep) => s.unique));
  for (const unique of [...positions].sort((x, y) => x - y))
    out.set(positionEmbeddingKey(unique), { data: gaussianArray(width, seed++), shape: [width] });
  for (const { module, rows, cols, rank } of shapes) {
    if (rank === 0) continue;
    const std = 1 / Math.sqrt(cols * 2 * width);
    const genA = gaussianArray(rank * cols * 2 * width, seed++).map((v) => v * std);
    out.set(generatorKey(module, 'A'), { data: genA, shape: [rank, cols, 2 * width] });
    out.set(generatorKey(module, 'B'), {
      data: new Float32Array(rows * rank * 2 * width),
      shape: [rows, rank, 2 * width],
    });
  }
  return out;
}
