import { join } from 'node:path';
import { Decoder, type LayerAdapter } from '@recur/graph';
import {
  DepthwiseLora,
  freshCoefficients,
  GatedFusion,
  ScaLearnAdapter,
  stackAdapters,
  type CompositionSpec,
} from '@recur/lora';
import { tf } from '@recur/tensor';
import type { LoadedModel } from '../../model.js';
import { baseFingerprint } from '../fingerprint.js';
import type { TrainableModel } from '../training/trainable.js';
import { writeCompositionFolder } from './folder.js';
import type { LoadedPart } from './parts.js';

/** What `recur train --compose A,B,C --compose-method M` trains: the method and the loaded parts. */
export interface CompositionTraining {
  readonly spec: CompositionSpec;
  /** The frozen source adapters (see loadParts); the run frees them. */
  readonly parts: readonly LoadedPart[];
}

export interface TrainableComposition extends TrainableModel {
  /** Writes `<out>/composition` (composition.json + coefficients.safetensors) and returns its path. */
  save(out: string): Promise<string>;
  /** Frees the coefficients and the parts (the model copy is freed with disposeModel). */
  dispose(): void;
}

/**
 * A trainable copy of `model` where only the composition's coefficients (ScaLearn scales or gates)
 * are Variables: the base (a converted model's own LoRA included) is cloned and frozen, and the parts
 * stay frozen, so the tfjs autodiff path reaches nothing else.
 */
export function compositionTrainable(model: LoadedModel, training: CompositionTraining): TrainableComposition {
  if (model.routerParams)
    throw new RangeError(`${model.source.path}: composing adapters on a router model is not supported`);
  const { spec } = training;
  const parts = training.parts.map((p) => p.lora);
  const params = new Map<string, tf.Variable>();
  for (const [key, { data, shape }] of freshCoefficients(spec, model.decoder.config, parts)) {
    const start = tf.tensor(data, [...shape], 'float32');
    params.set(key, tf.variable(start, true));
    start.dispose(); // the Variable holds its own reference to the data
  }
  const composer: LayerAdapter =
    spec.method === 'gated' ? new GatedFusion(parts, params, spec) : new ScaLearnAdapter(parts, params, spec);
  const clone = (tensors: ReadonlyMap<string, tf.Tensor>) => new Map([...tensors].map(([k, t]) => [k, tf.clone(t)]));
  const weights = clone(model.decoder.weights);
  const own = model.lora ? new DepthwiseLora(clone(model.lora.tensors), model.lora.scale) : undefined;
  const decoder = new Decoder(model.decoder.config, weights, {
    adapter: own ? stackAdapters([own, composer]) : composer,
  });
  const frozenParts = parts.flatMap((lora, i) =>
    [...lora.tensors].map(([k, t]) => [`compose.part${i}.${k}`, t] as const),
  );
  return {
    model: { ...model, decoder, ...(own && { lora: own }) },
    params,
    tensors: new Map<string, tf.Tensor>([...weights, ...(own?.tensors ?? []), ...frozenParts, ...params]),
    save: async (out) => {
      const dir = join(out, 'composition');
      const base = { path: model.source.path, fingerprint: baseFingerprint(model) };
      await writeCompositionFolder(dir, { spec, base, parts: training.parts, coefficients: params });
      return dir;
    },
    dispose: () => {
      for (const v of params.values()) v.dispose();
      for (const lora of parts) lora.dispose();
    },
  };
}
