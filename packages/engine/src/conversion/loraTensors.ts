import {
  adaptedModules,
  layerKey,
  TyingError,
  type DecoderConfig,
  type SharedTensorRecipe,
  type TyingPlan,
} from '@recur/graph';
import {
  depthwiseLoraSpecs,
  depthwiseLoraStep,
  initGeneratedLora,
  initMosLora,
  mosParameterCounts,
  mosTables,
  sharedSteps,
  type ArrayTensor,
  type LoraInitOptions,
  type LoraKindSpec,
  type LoraRanks,
  type MosSection,
  type MosSettings,
  type TruncationEnergy,
} from '@recur/lora';
import type { ConversionSource, ConvertOptions, LazyTensor } from './options.js';
import { sharedTensor } from './sharedTensor.js';

/** What every part of the LoRA reads: the source, the tying plan, the shared block's recipes, the options. */
export interface LoraContext {
  readonly source: ConversionSource;
  readonly plan: TyingPlan;
  readonly recipes: ReadonlyMap<string, SharedTensorRecipe>;
  readonly options: ConvertOptions;
  /** Collects the SVD-initialised adapters' kept energy as they are made. */
  readonly energy: TruncationEnergy[];
}

/**
 * Depth-wise LoRA tensors (and per-loop norms), made one shared step at a time: the first of a step's
 * tensors asked for computes the whole step (its source layer and stored layer read for it), the rest
 * are handed out from that step's map, which is then dropped.
 */
export function depthwiseTensors(context: LoraContext, ranks: LoraRanks): LazyTensor[] {
  const { source, plan, options } = context;
  const base = { plan, sourceConfig: source.config, ranks, norms: options.norms };
  const counters = { drawn: 0, done: 0 };
  const steps = sharedSteps(plan);
  let next = 0;
  let ready = new Map<string, ArrayTensor>();
  const stepOptions = (layers: StepLayers): LoraInitOptions => ({
    ...base,
    ...layers,
    init: options.loraInit,
    seed: options.seed ?? 0,
    onEnergy: (e) => context.energy.push(e),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  return depthwiseLoraSpecs(base).map((spec) => ({
    ...spec,
    dtype: 'F32' as const,
    data: async () => {
      while (!ready.has(spec.name)) {
        const step = steps[next++];
        if (!step) throw new Error(`convert: no shared step makes ${spec.name}`);
        ready = depthwiseLoraStep(step, stepOptions(await stepLayers(context, step)), counters);
      }
      const tensor = ready.get(spec.name)!;
      ready.delete(spec.name);
      return tensor.data;
    },
  }));
}

interface StepLayers {
  readonly source: Map<string, Float32Array>;
  readonly shared: Map<string, Float32Array>;
}

/** One shared step's source layer and its stored layer (made from its recipes), each tensor read once. */
async function stepLayers(
  context: LoraContext,
  step: { readonly unique: number; readonly sourceLayer: number },
): Promise<StepLayers> {
  const layer = (l: number) => [...context.recipes.keys()].filter((k) => k.startsWith(`model.layers.${l}.`));
  const source = new Map<string, Float32Array>();
  for (const key of layer(step.unique)) {
    const from = key.replace(`model.layers.${step.unique}.`, `model.layers.${step.sourceLayer}.`);
    source.set(from, await context.source.read(from));
  }
  const cached: ConversionSource = { ...context.source, read: async (k) => source.get(k) ?? context.source.read(k) };
  const shared = new Map<string, Float32Array>();
  for (const key of layer(step.unique)) shared.set(key, await sharedTensor(cached, context.recipes.get(key)!));
  return { source, shared };
}

/**
 * A generated kind's stored tensors (hyper's generators and embeddings, scaled's templates and scales).
 * Their names and shapes come from the kind's zero start, which reads no weight — for a zero-init kind
 * that is the data too. An SVD start (scaled's templates, hyper's generators) fits every loop of a
 * position at once, so the first tensor asked for reads the adapted projections of every shared step's
 * source layer and stored layer and fits them all; the rest are handed out from that map.
 */
export function generatedTensors(context: LoraContext, spec: LoraKindSpec): LazyTensor[] {
  const { source, plan, options } = context;
  const inputs = {
    spec,
    plan,
    sourceConfig: source.config,
    ranks: options.ranks,
    norms: 'tied' as const, // per-loop norms come from the per-step part
    seed: options.seed ?? 0,
  };
  const empty = new Map<string, Float32Array>();
  const zeroStart = initGeneratedLora({ ...inputs, source: empty, shared: empty, init: 'zero' });
  // scaled fits its templates and hyper its generators to the SVD factors; their zero starts read nothing
  const fitted = options.loraInit === 'svd';
  let made: Promise<Map<string, ArrayTensor>> | undefined;
  const make = async () => {
    const { source: read, shared } = await adaptedProjections(context);
    return initGeneratedLora({ ...inputs, source: read, shared, init: options.loraInit });
  };
  return [...zeroStart].map(([name, { shape, data }]) => ({
    name,
    shape,
    dtype: 'F32' as const,
    data: async () => {
      if (!fitted) return data;
      made ??= make();
      return (await made).get(name)!.data;
    },
  }));
}

/** The adapted projections (q…down) of every shared step's source layer and of every stored layer. */
async function adaptedProjections(context: LoraContext): Promise<StepLayers> {
  const source = new Map<string, Float32Array>();
  const shared = new Map<string, Float32Array>();
  for (const step of sharedSteps(context.plan))
    for (const module of adaptedModules) {
      const from = layerKey(step.sourceLayer, `${module}.weight`);
      if (!source.has(from)) source.set(from, await context.source.read(from));
      const to = layerKey(step.unique, `${module}.weight`);
      if (!shared.has(to)) shared.set(to, await sharedTensor(context.source, context.recipes.get(to)!));
    }
  return { source, shared };
}

export interface MosPart {
  readonly section: MosSection;
  /** Parameters of its pools against depth-wise LoRA at the same ranks. */
  readonly counts: { readonly pools: number; readonly depthwise: number };
  readonly tensors: LazyTensor[];
}

/** MoS pools and index tables (small: made whole up front) for every shared step. */
export function mosPart(
  sourceConfig: DecoderConfig,
  plan: TyingPlan,
  options: ConvertOptions,
  settings: MosSettings,
): MosPart {
  const steps = sharedSteps(plan).map((s) => [s.unique, s.loop] as const);
  const init = { config: sourceConfig, steps, ranks: options.ranks, settings };
  const tables = mosTables(init);
  if (tables.size === 0)
    throw new TyingError('--lora-kind mos needs a LoRA rank above 0 (--lora-rank-attn/--lora-rank-mlp)');
  const { mos: pools, depthwise } = mosParameterCounts(tables, steps.length);
  const { section, arrays } = initMosLora(init);
  const tensors = [...arrays].map(([name, { data, shape }]) => ({
    name,
    shape,
    dtype: 'F32' as const,
    data: async () => data,
  }));
  return { section, counts: { pools, depthwise }, tensors };
}
