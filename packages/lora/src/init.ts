import {
  adaptedModules,
  layerKey,
  layerWeightSpecs,
  type AdaptedModule,
  type DecoderConfig,
  type LayerStep,
  type NormName,
  type TyingPlan,
} from '@recur/graph';
import { gaussianArray, truncatedSvd } from '@recur/tensor';
import { loopNormKey, loraKey } from './keys.js';
import { rankFor, type LoraRanks } from './ranks.js';

export type LoraInit = 'svd' | 'zero';
export type NormMode = 'tied' | 'per-loop';

export interface LoraInitOptions {
  readonly plan: TyingPlan;
  /** Config of the source model (gives every module's [out, in]). */
  readonly sourceConfig: DecoderConfig;
  /** Weights of the source (untied) model by checkpoint key. */
  readonly source: ReadonlyMap<string, Float32Array>;
  /** Weights of the recursive model (its stored, shared layers). */
  readonly shared: ReadonlyMap<string, Float32Array>;
  readonly ranks: LoraRanks;
  readonly init: LoraInit;
  /** 'per-loop' gives each loop of a shared layer the RMSNorm weights of the source layer it stands for. */
  readonly norms?: NormMode;
  readonly seed?: number;
  /** Called after each (step, module) adapter is made: SVD of large matrices takes a while. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Called once per SVD-initialised adapter with the share of its residual's energy the rank keeps. */
  readonly onEnergy?: (energy: TruncationEnergy) => void;
}

/** One truncated residual: captured = Σ_{i≤rank} sᵢ² / Σ sᵢ² (exact denominator: ‖R‖_F²). */
export interface TruncationEnergy {
  /** The adapter it initialises, e.g. `model.layers.1.self_attn.q_proj.loop0`. */
  readonly name: string;
  readonly sourceLayer: number;
  readonly rank: number;
  readonly captured: number;
  /** ‖R‖_F², float64: 0 where the init already equals the source layer (e.g. Lower init's loop 0). */
  readonly residualEnergy: number;
}

export interface ArrayTensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

export class LoraError extends Error {
  override readonly name = 'LoraError';
}

/**
 * Initial depth-wise LoRA for every shared step. 'svd' (Bae et al. 2024 §3.3) factors what tying
 * lost, R = W_orig[source layer] − W_shared: U,S,V = svd_r(R), B = U·diag(S), A = Vᵀ, so at full
 * rank W_shared + B·A = W_orig. 'zero' starts from A random, B = 0 (no change at step 0).
 */
export function initDepthwiseLora(options: LoraInitOptions): Map<string, ArrayTensor> {
  const out = new Map<string, ArrayTensor>();
  const counters = { drawn: 0, done: 0 };
  for (const step of sharedSteps(options.plan)) {
    for (const [key, tensor] of depthwiseLoraStep(step, options, counters)) out.set(key, tensor);
  }
  const total = sharedSteps(options.plan).length * adaptedModules.length;
  options.onProgress?.(total, total);
  return out;
}

/** The steps that get adapters: unique first/last layers are the source layers themselves. */
export function sharedSteps(plan: TyingPlan): LayerStep[] {
  return plan.steps.filter((s) => s.role === 'shared');
}

/**
 * One shared step's adapters (and per-loop norms), in file order. `source` and `shared` need only
 * hold this step's source layer and stored layer, so a streaming converter can go step by step;
 * `counters` carries the zero-init seeds drawn and the progress across steps.
 */
export function depthwiseLoraStep(
  step: LayerStep,
  options: LoraInitOptions,
  counters: { drawn: number; done: number },
): Map<string, ArrayTensor> {
  const out = new Map<string, ArrayTensor>();
  const total = sharedSteps(options.plan).length * adaptedModules.length;
  for (const module of adaptedModules) {
    options.onProgress?.(counters.done++, total);
    const orig = options.source.get(layerKey(step.sourceLayer, `${module}.weight`));
    const shared = options.shared.get(layerKey(step.unique, `${module}.weight`));
    if (!orig || !shared)
      throw new LoraError(`no weight for ${module} of source layer ${step.sourceLayer} / shared layer ${step.unique}`);
    const shape = moduleShape(options.sourceConfig, module);
    const rank = checkedRank(options.ranks, module, shape);
    if (rank === 0) continue;
    const factors =
      options.init === 'svd'
        ? svdFactors(orig, shared, shape, rank, options.seed ?? 0)
        : zeroFactors(shape, rank, (options.seed ?? 0) * 10_007 + counters.drawn++);
    if (factors.captured !== undefined) {
      options.onEnergy?.({
        name: `model.layers.${step.unique}.${module}.loop${step.loop}`,
        sourceLayer: step.sourceLayer,
        rank,
        captured: factors.captured,
        residualEnergy: factors.residualEnergy ?? 0,
      });
    }
    out.set(loraKey(step.unique, module, step.loop, 'A'), factors.a);
    out.set(loraKey(step.unique, module, step.loop, 'B'), factors.b);
  }
  if (options.norms === 'per-loop') {
    for (const name of normNames) {
      const key = layerKey(step.sourceLayer, `${name}.weight`);
      const norm = options.source.get(key);
      if (!norm) throw new LoraError(`per-loop norms need the source's ${key}, which it lacks`);
      out.set(loopNormKey(step.unique, name, step.loop), { data: norm, shape: [norm.length] });
    }
  }
  return out;
}

/**
 * Names and shapes of every tensor `initDepthwiseLora` makes, in its order, known before any is
 * made (a streamed file's header lists them first).
 */
export function depthwiseLoraSpecs(
  options: Pick<LoraInitOptions, 'plan' | 'sourceConfig' | 'ranks' | 'norms'>,
): { name: string; shape: readonly number[] }[] {
  const specs: { name: string; shape: readonly number[] }[] = [];
  for (const step of sharedSteps(options.plan)) {
    for (const module of adaptedModules) {
      const [rows, cols] = moduleShape(options.sourceConfig, module);
      const rank = checkedRank(options.ranks, module, [rows, cols]);
      if (rank === 0) continue;
      specs.push({ name: loraKey(step.unique, module, step.loop, 'A'), shape: [rank, cols] });
      specs.push({ name: loraKey(step.unique, module, step.loop, 'B'), shape: [rows, rank] });
    }
    if (options.norms !== 'per-loop') continue;
    for (const name of normNames)
      specs.push({ name: loopNormKey(step.unique, name, step.loop), shape: [options.sourceConfig.hiddenSize] });
  }
  return specs;
}

const normNames: readonly NormName[] = ['input_layernorm', 'post_attention_layernorm'];

function checkedRank(ranks: LoraRanks, module: AdaptedModule, shape: [number, number]): number {
  const rank = rankFor(ranks, module, shape);
  if (!Number.isInteger(rank) || rank < 0 || rank > Math.min(...shape)) {
    throw new LoraError(
      `LoRA rank ${rank} does not fit ${module} [${shape.join(', ')}] (at most ${Math.min(...shape)})`,
    );
  }
  return rank;
}

/** [out, in] of a module's weight. */
function moduleShape(config: DecoderConfig, module: AdaptedModule): [number, number] {
  const spec = layerWeightSpecs(config, 0).find((s) => s.name.endsWith(`.${module}.weight`))!;
  return [spec.shape[0]!, spec.shape[1]!];
}

interface Factors {
  readonly a: ArrayTensor;
  readonly b: ArrayTensor;
  /** Energy of the residual the SVD factors keep (absent for zero init). */
  readonly captured?: number;
  /** ‖R‖_F² of the residual they factor (absent for zero init). */
  readonly residualEnergy?: number;
}

function svdFactors(
  orig: Float32Array,
  shared: Float32Array,
  [rows, cols]: [number, number],
  rank: number,
  seed: number,
): Factors {
  const residual = orig.map((v, i) => v - shared[i]!); // [rows, cols]
  const { u, s, v, captured } = truncatedSvd(residual, rows, cols, rank, { seed });
  const b = new Float32Array(rows * rank); // [out, r] = U·diag(S)
  for (let o = 0; o < rows; o++) for (let j = 0; j < rank; j++) b[o * rank + j] = u[o * rank + j]! * s[j]!;
  const a = new Float32Array(rank * cols); // [r, in] = Vᵀ
  for (let j = 0; j < rank; j++) for (let i = 0; i < cols; i++) a[j * cols + i] = v[i * rank + j]!;
  let residualEnergy = 0;
  for (const x of residual) residualEnergy += x * x;
  return { a: { data: a, shape: [rank, cols] }, b: { data: b, shape: [rows, rank] }, captured, residualEnergy };
}

function zeroFactors([rows, cols]: [number, number], rank: number, seed: number): Factors {
  const a = gaussianArray(rank * cols, seed).map((v) => v / Math.sqrt(cols)); // [r, in], unit-variance outputs
  return { a: { data: a, shape: [rank, cols] }, b: { data: new Float32Array(rows * rank), shape: [rows, rank] } };
}
