import {
  decoderWeightSpecs,
  recursivePlan,
  sharedLayerRecipes,
  TyingError,
  type DecoderConfig,
  type TyingPlan,
} from '@recur/graph';
import {
  generatedKind,
  loraKindFields,
  loraKindSpec,
  type LoraKindSpec,
  type MosSection,
  type TruncationEnergy,
} from '@recur/lora';
import type { RecurSection } from '../recurConfig.js';
import { depthwiseTensors, generatedTensors, mosPart, type MosPart } from './loraTensors.js';
import type { ConversionSource, ConvertOptions, LazyTensor } from './options.js';
import { sharedTensor } from './sharedTensor.js';

/**
 * The one description of a conversion into a Relaxed Recursive Transformer (Bae et al. 2024,
 * "Relaxed Recursive Transformers", arXiv 2410.20672): every tensor of the converted model in file
 * order, each made only when asked for from the few source tensors it needs, plus its config.
 * Two executors run it: `node/convertStream.ts` writes the tensors to model.safetensors one by one
 * (the CLI; peak ≈ one source layer plus one stored layer), `convert.ts` collects them into a
 * loaded model (training from scratch, the playground, tests).
 */
export interface Conversion {
  /** The recursive model's decoder config (`plan.uniqueLayers` stored layers run in `layerOrder`). */
  readonly config: DecoderConfig;
  readonly plan: TyingPlan;
  /** What config.json records so the model reloads. */
  readonly recur: RecurSection;
  /** The shared block's tensors (each the mean of the source tensors it ties), in file order. */
  readonly decoder: readonly LazyTensor[];
  /** The LoRA as stored (depth-wise factors, MoS pools and tables, or a generated kind's tensors; per-loop norms). */
  readonly lora: readonly LazyTensor[];
  /** Per SVD-initialised adapter, the share of its residual's energy kept; filled as the adapters are made. */
  readonly loraEnergy: readonly TruncationEnergy[];
  /** Unique parameters of the shared block and of the stored LoRA (MoS: its pools, not the index tables). */
  readonly parameters: { readonly shared: number; readonly lora: number; readonly source: number };
  readonly mos?: Omit<MosPart, 'tensors'>;
  /** The generated kind (hyper, scaled) the LoRA tensors store. */
  readonly generated?: LoraKindSpec;
}

export function conversionPlan(source: ConversionSource, options: ConvertOptions): Conversion {
  const { config, plan } = recursivePlan(source.config, options);
  const spec = loraKindSpec(options);
  const generated = generatedKind(spec) ? spec : undefined;
  if (spec.kind === 'mos' && !options.mos) throw new TyingError('--lora-kind mos needs its MoS settings');
  const mos = spec.kind === 'mos' && options.mos ? mosPart(source.config, plan, options, options.mos) : undefined;
  const recipes = new Map(
    sharedLayerRecipes(source.config, plan, options.init, options.seed ?? 0).map((r) => [r.name, r]),
  );
  const decoder = decoderWeightSpecs(config).map((spec): LazyTensor => {
    const recipe = recipes.get(spec.name);
    return { ...spec, dtype: 'F32', data: recipe ? () => sharedTensor(source, recipe) : () => source.read(spec.name) };
  });
  const energy: TruncationEnergy[] = [];
  const context = { source, plan, recipes, options, energy };
  // MoS and the generated kinds: the per-step part gives only the per-loop norms (if any)
  const perStep = depthwiseTensors(context, mos || generated ? { attention: 0, mlp: 0 } : options.ranks);
  const lora = [...(generated ? generatedTensors(context, generated) : []), ...perStep, ...(mos?.tensors ?? [])];
  const size = (tensors: readonly LazyTensor[]) =>
    tensors.reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0);
  const parameters = {
    shared: size(decoder),
    lora: mos ? size(perStep) + mos.counts.pools : size(lora),
    source: source.parameters,
  };
  return {
    config,
    plan,
    recur: recurOf(source, config, plan, options, mos?.section, generated),
    decoder,
    lora,
    loraEnergy: energy,
    parameters,
    ...(mos && { mos: { section: mos.section, counts: mos.counts } }),
    ...(generated && { generated }),
  };
}

function recurOf(
  source: ConversionSource,
  config: DecoderConfig,
  plan: TyingPlan,
  options: ConvertOptions,
  mos: MosSection | undefined,
  generated: LoraKindSpec | undefined,
): RecurSection {
  return {
    strategy: options.strategy,
    loops: options.loops,
    blockSize: plan.blockSize,
    init: options.init,
    // MoS always starts at the tied model (zero B pool), whatever --lora-init says; hyper fits its generators to the SVD factors under svd
    loraInit: mos ? 'zero' : options.loraInit,
    ...(generated && loraKindFields(generated)),
    ...(mos && { loraKind: 'mos' as const, mos }),
    ranks: options.ranks,
    norms: options.norms,
    loraScale: options.loraScale ?? 1,
    layerOrder: config.layerOrder ?? [],
    source: { path: source.path, numLayers: source.config.numLayers, parameters: source.parameters },
  };
}
