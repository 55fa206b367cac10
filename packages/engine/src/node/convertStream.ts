import { join, resolve } from 'node:path';
import type { Checkpoint, ModelConfig } from '@recur/checkpoint';
import { loadCheckpoint, writeSafetensorsFile, type Deferred } from '@recur/checkpoint/node';
import {
  decoderWeightSpecs,
  makeSharedTensor,
  parameterCount,
  recursivePlan,
  sharedLayerRecipes,
  TyingError,
  type DecoderConfig,
  type LayerStep,
  type SharedTensorRecipe,
  type TyingPlan,
} from '@recur/graph';
import {
  depthwiseLoraSpecs,
  depthwiseLoraStep,
  generatedKind,
  initMosLora,
  loraKindSpec,
  mosParameterCounts,
  mosTables,
  sharedSteps,
  type MosSection,
  type ArrayTensor,
  type LoraInitOptions,
  type TruncationEnergy,
} from '@recur/lora';
import type { ConvertOptions } from '../convert.js';
import { hfConfigJson, type RecurSection } from '../recurConfig.js';
import { json, tokenizerFiles, writeAtomic } from './files.js';
import { convertGeneratedToFolder } from './convertGenerated.js';
import { configSections } from './load.js';
import { writeOutput, type OutputOptions } from './output.js';
import { isRecurModelDir, PRODUCER } from './ownOutput.js';
import { configWithTiedHead } from '../tiedHead.js';

export interface ConvertSummary {
  readonly plan: TyingPlan;
  readonly loraEnergy: readonly TruncationEnergy[];
  readonly parameters: { readonly shared: number; readonly lora: number; readonly source: number };
  readonly recur: RecurSection;
  /** `loraKind: 'mos'`: parameters of its pools against depth-wise LoRA at the same ranks. */
  readonly mos?: { readonly pools: number; readonly depthwise: number };
  /** Bytes of model.safetensors. */
  readonly bytes: number;
}

/**
 * `convertModel` + `saveConvertedModel` in bounded memory: the source is read tensor by tensor from
 * its file and the folder's model.safetensors is streamed in file order — the shared block's
 * tensors (each the mean of the source tensors it ties), then each shared step's adapters (its
 * source layer and stored layer read, SVD'd, dropped). Peak ≈ one source layer plus one stored
 * layer, never the whole model. Same files, byte for byte, as the in-memory path. A generated LoRA
 * kind (hyper, scaled) takes the in-memory path (`convertGeneratedToFolder`).
 */
export async function convertToFolder(
  sourcePath: string,
  dir: string,
  options: ConvertOptions & OutputOptions,
): Promise<ConvertSummary> {
  const sections = await configSections(sourcePath);
  if (sections.recur) throw new TyingError('the source model is already recursive; convert its original instead');
  if (sections.masa)
    throw new TyingError(
      'a MASA model is not looped (its attention is already shared as atoms); convert its source instead',
    );
  if (generatedKind(loraKindSpec(options))) return convertGeneratedToFolder(sourcePath, dir, options);
  const checkpoint = await loadCheckpoint(sourcePath);
  try {
    const sourceConfig = await configWithTiedHead(checkpoint);
    const { config, plan } = recursivePlan(sourceConfig, options);
    const mos = options.loraKind === 'mos' ? mosPart(sourceConfig, plan, options) : undefined;
    const parts = convertedTensors(checkpoint, sourceConfig, config, plan, options, mos);
    const recur = recurOf(sourcePath, sourceConfig, config, plan, options, mos?.section);
    const target = { kind: 'dir' as const, sources: [sourcePath, ...(options.sources ?? [])], isOwn: isRecurModelDir };
    const { bytes } = await writeOutput(dir, { ...target, force: options.force ?? false }, async (temp) => {
      const written = await writeSafetensorsFile(join(temp, 'model.safetensors'), parts.tensors, {
        format: 'pt',
        producer: PRODUCER,
      });
      const modelConfig: ModelConfig = { ...sourceConfig, numLayers: plan.uniqueLayers };
      await writeAtomic(join(temp, 'config.json'), json(hfConfigJson(modelConfig, recur)));
      for (const [name, content] of Object.entries(await tokenizerFiles(sourcePath)))
        await writeAtomic(join(temp, name), content);
      return written;
    });
    return {
      plan,
      loraEnergy: parts.energy,
      parameters: parts.parameters,
      recur,
      ...(mos && { mos: mos.counts }),
      bytes,
    };
  } finally {
    await checkpoint.close();
  }
}

/** The converted model's tensors in file order, each made when the writer reaches it. */
function convertedTensors(
  checkpoint: Checkpoint,
  sourceConfig: DecoderConfig,
  config: DecoderConfig,
  plan: TyingPlan,
  options: ConvertOptions,
  mos: MosPart | undefined,
): {
  tensors: Deferred<{ name: string; shape: readonly number[]; dtype: 'F32' }>[];
  energy: TruncationEnergy[];
  parameters: ConvertSummary['parameters'];
} {
  const recipes = new Map(
    sharedLayerRecipes(sourceConfig, plan, options.init, options.seed ?? 0).map((r) => [r.name, r]),
  );
  const shared = (recipe: SharedTensorRecipe) => async () => {
    const sources = new Map<string, Float32Array>();
    for (const key of recipe.sources) sources.set(key, await checkpoint.read(key));
    return makeSharedTensor(recipe, (key) => sources.get(key)!);
  };
  const decoder = decoderWeightSpecs(config).map((spec) => {
    const recipe = recipes.get(spec.name);
    return { ...spec, dtype: 'F32' as const, data: recipe ? shared(recipe) : () => checkpoint.read(spec.name) };
  });
  const energy: TruncationEnergy[] = [];
  // MoS: the steps give only their per-loop norms (if any); the factors come from the pools
  const stepOptions = mos ? { ...options, ranks: { attention: 0, mlp: 0 } } : options;
  const lora = loraTensors(checkpoint, sourceConfig, plan, recipes, stepOptions, energy);
  const size = (specs: readonly { shape: readonly number[] }[]) =>
    specs.reduce((sum, s) => sum + s.shape.reduce((a, b) => a * b, 1), 0);
  const parameters = {
    shared: size(decoder),
    lora: size(lora) + (mos?.counts.pools ?? 0),
    source: parameterCount(sourceConfig),
  };
  return { tensors: [...decoder, ...lora, ...(mos?.tensors ?? [])], energy, parameters };
}

interface MosPart {
  readonly section: MosSection;
  readonly counts: { readonly pools: number; readonly depthwise: number };
  readonly tensors: Deferred<{ name: string; shape: readonly number[]; dtype: 'F32' }>[];
}

/** MoS pools and index tables (small: made whole up front) for every shared step. */
function mosPart(sourceConfig: DecoderConfig, plan: TyingPlan, options: ConvertOptions): MosPart {
  const steps = sharedSteps(plan).map((s) => [s.unique, s.loop] as const);
  if (!options.mos) throw new TyingError('--lora-kind mos needs its MoS settings');
  const init = { config: sourceConfig, steps, ranks: options.ranks, settings: options.mos };
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

/**
 * Depth-wise LoRA tensors, made one shared step at a time: the first of a step's tensors the writer
 * asks for computes the whole step (its source layer and stored layer read for it), the rest are
 * handed out from that step's map, which is then dropped.
 */
function loraTensors(
  checkpoint: Checkpoint,
  sourceConfig: DecoderConfig,
  plan: TyingPlan,
  recipes: ReadonlyMap<string, SharedTensorRecipe>,
  options: ConvertOptions,
  energy: TruncationEnergy[],
): Deferred<{ name: string; shape: readonly number[]; dtype: 'F32' }>[] {
  const base = { plan, sourceConfig, ranks: options.ranks, norms: options.norms };
  const specs = depthwiseLoraSpecs(base);
  const counters = { drawn: 0, done: 0 };
  const steps = sharedSteps(plan);
  let next = 0;
  let ready = new Map<string, ArrayTensor>();
  const stepOf = async (step: LayerStep): Promise<Map<string, ArrayTensor>> => {
    const layer = (l: number) => [...recipes.keys()].filter((k) => k.startsWith(`model.layers.${l}.`));
    const sourceKeys = layer(step.unique).map((k) =>
      k.replace(`model.layers.${step.unique}.`, `model.layers.${step.sourceLayer}.`),
    );
    const source = new Map<string, Float32Array>();
    for (const key of sourceKeys) source.set(key, await checkpoint.read(key));
    const shared = new Map<string, Float32Array>();
    for (const key of layer(step.unique)) {
      const recipe = recipes.get(key)!;
      const inputs = new Map<string, Float32Array>();
      for (const k of recipe.sources) inputs.set(k, source.get(k) ?? (await checkpoint.read(k)));
      shared.set(
        key,
        makeSharedTensor(recipe, (k) => inputs.get(k)!),
      );
    }
    const stepOptions: LoraInitOptions = {
      ...base,
      source,
      shared,
      init: options.loraInit,
      seed: options.seed ?? 0,
      onEnergy: (e) => energy.push(e),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    };
    return depthwiseLoraStep(step, stepOptions, counters);
  };
  return specs.map((spec) => ({
    ...spec,
    dtype: 'F32' as const,
    data: async () => {
      while (!ready.has(spec.name)) {
        const step = steps[next++];
        if (!step) throw new Error(`convert: no shared step makes ${spec.name}`);
        ready = await stepOf(step);
      }
      const tensor = ready.get(spec.name)!;
      ready.delete(spec.name);
      return tensor.data;
    },
  }));
}

function recurOf(
  sourcePath: string,
  sourceConfig: ModelConfig,
  config: DecoderConfig,
  plan: TyingPlan,
  options: ConvertOptions,
  mos: MosSection | undefined,
): RecurSection {
  return {
    strategy: options.strategy,
    loops: options.loops,
    blockSize: plan.blockSize,
    init: options.init,
    // MoS starts from a zero B pool (see initMosLora), whatever init depth-wise LoRA would use
    loraInit: mos ? 'zero' : options.loraInit,
    ...(mos && { loraKind: 'mos' as const, mos }),
    ranks: options.ranks,
    norms: options.norms,
    loraScale: options.loraScale ?? 1,
    layerOrder: config.layerOrder ?? [],
    source: { path: resolve(sourcePath), numLayers: sourceConfig.numLayers, parameters: parameterCount(sourceConfig) },
  };
}
