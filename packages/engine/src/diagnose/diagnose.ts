import { sharedPcaCka } from '@recur/tensor';
import type { LoadedModel } from '../model.js';
import { domainMetrics, type DomainMetrics } from './domainMetrics.js';
import { inflectionRanking, inflectionRuleText, inflectionSteps } from './inflection.js';
import { diagnosticPass } from './windowGradients.js';

export interface DiagnoseOptions {
  /** Source-data windows [BOS, …] (perplexityWindows). */
  readonly windows: readonly (readonly number[])[];
  /** Target-domain windows: adds ΔCKA and the target's own metrics. */
  readonly targetWindows?: readonly (readonly number[])[];
  /** Inflection rule: the least relative drop of ‖∂L/∂h‖ from the step above (default 0.1). */
  readonly minDrop?: number;
  /** Principal directions of the shared PCA basis for ΔCKA (default 32). */
  readonly components?: number;
  /** Hidden-state rows per step and domain that ΔCKA reads (default 4096, the first tokens). */
  readonly maxRows?: number;
  readonly onProgress?: (windowsDone: number, windowsTotal: number) => void;
}

/** Attention entropy and gradient norms of one domain at one step or layer. */
export interface DomainValues {
  readonly attentionEntropy: number;
  readonly activationGradNorm: number;
  readonly paramGradNorm: number;
}

export interface StepDiagnostics extends DomainValues {
  readonly step: number;
  /** Stored layer run at this step. */
  readonly layer: number;
  readonly loop: number;
  readonly deltaCka?: number;
  readonly target?: DomainValues;
}

export interface LayerDiagnostics extends DomainValues {
  readonly layer: number;
  /** Executed steps of this stored layer (one in a plain model). */
  readonly steps: readonly number[];
  readonly deltaCka?: number;
  readonly target?: DomainValues;
}

export interface DiagnoseResult {
  /** One entry per stored layer: means over its steps, except paramGradNorm (its own weights' gradient). */
  readonly layers: LayerDiagnostics[];
  readonly steps: StepDiagnostics[];
  /** Whether a stored layer runs at more than one step. */
  readonly recursive: boolean;
  readonly inflectionSteps: number[];
  /** Every step, closest to an inflection step first (`inflectionRanking`; `--lora-layers auto:K` takes the first K). */
  readonly inflectionRanking: number[];
  /**
   * [step][step] on the source data: mean over windows, heads and query rows of 1 − Jensen–Shannon
   * divergence (bits) between the two steps' causal attention rows; 1 = identical maps (EchoAtt's measure).
   */
  readonly attentionSimilarity: number[][];
  readonly similarityMetric: string;
  /** Stored layers with an inflection step. */
  readonly inflectionLayers: number[];
  readonly rule: string;
  readonly source: { readonly windows: number; readonly tokens: number; readonly loss: number };
  readonly target?: {
    readonly windows: number;
    readonly tokens: number;
    readonly loss: number;
    readonly components: number;
  };
}

export const SIMILARITY_METRIC =
  'mean over windows, heads and query rows of 1 − JS(p_a ‖ p_b) in bits between steps a and b’s causal attention rows';

/**
 * Per-layer adaptation diagnostics ("Attention Saturation and Gradient Suppression at Inflection
 * Layers", Wang 2025, arXiv 2511.00797) on the tfjs decoder with autodiff: attention entropy, ‖∂L/∂h‖,
 * ‖∂L/∂θ‖, ΔCKA under a shared PCA basis (`sharedPcaCka`), and the inflection steps (`inflectionSteps`).
 * Router models run at full depth (the router is not consulted).
 */
export async function diagnoseModel(
  model: Pick<LoadedModel, 'decoder' | 'lora'>,
  options: DiagnoseOptions,
): Promise<DiagnoseResult> {
  const minDrop = options.minDrop ?? 0.1;
  if (options.windows.length === 0) throw new RangeError('diagnose: no tokens to diagnose: the data is empty');
  if (options.targetWindows?.length === 0)
    throw new RangeError('diagnose: no tokens in the target data: the file is empty');
  const pass = diagnosticPass(model.decoder, model.lora);
  const total = options.windows.length + (options.targetWindows?.length ?? 0);
  let done = 0;
  const domain = { maxRows: options.maxRows ?? 4096, onWindow: () => options.onProgress?.(++done, total) };
  const source = await domainMetrics(pass, options.windows, domain);
  const target = options.targetWindows ? await domainMetrics(pass, options.targetWindows, domain) : undefined;
  const components = options.components ?? 32;
  const dim = model.decoder.config.hiddenSize;
  const deltaCka = target
    ? source.hidden.map((x, s) => sharedPcaCka(x, target.hidden[s]!, { dim, components }).deltaCka)
    : undefined;
  const steps = pass.steps.map(
    (call, s): StepDiagnostics => ({
      step: call.step,
      layer: call.unique,
      loop: call.loop,
      ...values(source, s, source.paramGradNorm),
      ...(deltaCka && { deltaCka: deltaCka[s]! }),
      ...(target && { target: values(target, s, target.paramGradNorm) }),
    }),
  );
  checkFinite(steps);
  if (!source.attentionSimilarity.every((row) => row.every(Number.isFinite)))
    throw new RangeError('diagnose: a non-finite attention-map similarity; is the model diverged?');
  const flagged = inflectionSteps(source.attentionEntropy, source.activationGradNorm, minDrop);
  const layers = layerEntries(steps, source, target);
  return {
    layers,
    steps,
    recursive: layers.some((l) => l.steps.length > 1),
    inflectionSteps: flagged,
    inflectionRanking: inflectionRanking(source.attentionEntropy, source.activationGradNorm),
    attentionSimilarity: source.attentionSimilarity,
    similarityMetric: SIMILARITY_METRIC,
    inflectionLayers: [...new Set(flagged.map((s) => steps[s]!.layer))].sort((a, b) => a - b),
    rule: inflectionRuleText(minDrop),
    source: { windows: source.windows, tokens: source.tokens, loss: source.loss },
    ...(target && {
      target: {
        windows: target.windows,
        tokens: target.tokens,
        loss: target.loss,
        components: Math.min(components, dim),
      },
    }),
  };
}

function values(domain: DomainMetrics, index: number, paramGradNorm: readonly number[]): DomainValues {
  return {
    attentionEntropy: domain.attentionEntropy[index]!,
    activationGradNorm: domain.activationGradNorm[index]!,
    paramGradNorm: paramGradNorm[index]!,
  };
}

/** Stored layers that run: step metrics averaged over their steps, the layer's own weight-gradient norm. */
function layerEntries(
  steps: readonly StepDiagnostics[],
  source: DomainMetrics,
  target: DomainMetrics | undefined,
): LayerDiagnostics[] {
  const layers = [...new Set(steps.map((s) => s.layer))].sort((a, b) => a - b);
  return layers.map((layer) => {
    const own = steps.filter((s) => s.layer === layer);
    const mean = (pick: (s: StepDiagnostics) => number) => own.reduce((sum, s) => sum + pick(s), 0) / own.length;
    const domainMean = (pick: (s: StepDiagnostics) => DomainValues, domain: DomainMetrics): DomainValues => ({
      attentionEntropy: mean((s) => pick(s).attentionEntropy),
      activationGradNorm: mean((s) => pick(s).activationGradNorm),
      paramGradNorm: domain.layerParamGradNorm[layer]!,
    });
    return {
      layer,
      steps: own.map((s) => s.step),
      ...domainMean((s) => s, source),
      ...(own[0]!.deltaCka !== undefined && { deltaCka: mean((s) => s.deltaCka!) }),
      ...(target && { target: domainMean((s) => s.target!, target) }),
    };
  });
}

/** NaN or infinite metrics are an error (a diverged or broken model), never silent output. */
function checkFinite(steps: readonly StepDiagnostics[]): void {
  for (const s of steps) {
    const numbers = [s.attentionEntropy, s.activationGradNorm, s.paramGradNorm, s.deltaCka ?? 0];
    if (s.target) numbers.push(s.target.attentionEntropy, s.target.activationGradNorm, s.target.paramGradNorm);
    if (!numbers.every(Number.isFinite))
      throw new RangeError(
        `diagnose: step ${s.step} (layer ${s.layer}) has a non-finite metric; is the model diverged?`,
      );
  }
}
