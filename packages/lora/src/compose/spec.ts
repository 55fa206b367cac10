import type { AdaptedModule, LayerCall } from '@recur/graph';

/**
 * How several frozen LoRA adapters ("parts") combine into one:
 * - `scalearn`: every part's delta is scaled by a learned vector over the projection's output
 *   dimension, per executed step, projection and part (ScaLearn).
 * - `scalearn-uniform`: one learned scalar per executed step and part, shared by its projections
 *   (ScaLearnUniform).
 * - `gated`: a small gate per step and projection reads that projection's input, per token, and
 *   outputs mixing weights over the parts' deltas (AutoLoRA's gated fusion).
 */
export type CompositionMethod = 'scalearn' | 'scalearn-uniform' | 'gated';

export const compositionMethods: readonly CompositionMethod[] = ['scalearn', 'scalearn-uniform', 'gated'];

/** How gate logits become mixing weights: softmax over the parts (weights sum to 1), or one sigmoid per part. */
export type GateActivation = 'softmax' | 'sigmoid';

export interface CompositionSpec {
  readonly method: CompositionMethod;
  /**
   * One set of coefficients (or gates) for every executed step instead of one per step: with
   * `scalearn-uniform`, ScaLearnUniform++ — one scalar per part in all.
   */
  readonly shareLayers: boolean;
  /** `gated` only (default softmax). */
  readonly gate?: GateActivation;
}

/** Whether a method's composed delta is a fixed linear map, i.e. folds into dense weights exactly. */
export const isLinearComposition = (method: CompositionMethod): boolean => method !== 'gated';

/** Every coefficient name starts with this, so checkpoints keep them apart from model and adapter keys. */
export const COMPOSE_PREFIX = 'compose.';

type Step = Pick<LayerCall, 'unique' | 'loop'>;
const where = (step: Step | undefined, module?: AdaptedModule) =>
  [step ? `layers.${step.unique}` : undefined, module, step ? `loop${step.loop}` : undefined]
    .filter((part) => part !== undefined)
    .join('.');

/**
 * Name of part `part`'s ScaLearn coefficient at `step` and `module`; with `shareLayers` the step is
 * left out, with the uniform form the module too: `compose.scalearn.1.layers.0.self_attn.q_proj.loop2`,
 * `compose.scalearn.1.layers.0.loop2`, `compose.scalearn.1.mlp.up_proj`, `compose.scalearn.1`.
 */
export function scaleKey(spec: CompositionSpec, part: number, step: Step, module: AdaptedModule): string {
  const place = where(spec.shareLayers ? undefined : step, spec.method === 'scalearn' ? module : undefined);
  return `${COMPOSE_PREFIX}scalearn.${part}${place ? `.${place}` : ''}`;
}

/** Name of the gate weight [parts, in] (`weight`) or bias [parts] (`bias`) at `step` and `module`. */
export function gateKey(spec: CompositionSpec, step: Step, module: AdaptedModule, which: 'weight' | 'bias'): string {
  return `${COMPOSE_PREFIX}gate.${where(spec.shareLayers ? undefined : step, module)}.${which}`;
}
