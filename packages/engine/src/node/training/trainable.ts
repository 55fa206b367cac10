import { Decoder } from '@recur/graph';
import { DepthwiseLora, GeneratedLora, MosLora } from '@recur/lora';
import { balanceBiasKey } from '@recur/router';
import { MasaDictionary } from '@recur/sharing';
import { tf } from '@recur/tensor';
import { isTrainable, withVariables, type TrainableSelection } from '@recur/train';
import type { LoadedModel } from '../../model.js';

export interface TrainableModel {
  /** The same model with the selected weights as tf.Variables (it owns them: dispose with `disposeModel`). */
  readonly model: LoadedModel;
  readonly params: Map<string, tf.Variable>;
  /** Every tensor of the model by checkpoint key (decoder weights and adapters), for checkpoints. */
  readonly tensors: Map<string, tf.Tensor>;
}

/**
 * A trainable copy of `model`: selected decoder weights, MASA atoms and coefficients, LoRA tensors (MoS pools;
 * a generated kind's generators or templates and scales, not the factors they make), and any MoR router,
 * become Variables; the rest are cloned, so the copy and the original can be
 * disposed independently. A MASA copy's decoder computes W_l from the atoms at each use.
 * `filter` narrows the selection further (e.g. LoRA on some layers only: `loraLayerFilter`).
 */
export function trainableModel(
  model: LoadedModel,
  selection: TrainableSelection,
  filter: (name: string) => boolean = () => true,
): TrainableModel {
  const select = (name: string) => isTrainable(name, selection) && filter(name);
  // MASA: the atoms and coefficients train; the decoder rebuilds W_l from them at each use (autodiff sees through)
  const derived = model.masa?.dictionary.keys;
  const stored = new Map([...model.decoder.weights].filter(([name]) => !derived?.has(name)));
  const weights = withVariables(stored, select);
  const atoms = model.masa ? withVariables(model.masa.dictionary.tensors, select) : undefined;
  // MoS: the shard pools (and per-loop norms) train; each call gathers its step's factors from them.
  // A generated (hyper, scaled) LoRA trains in its stored form: the decoder computes each step's factors from it.
  const storedLora = model.mos ? undefined : (model.generatedLora ?? model.lora);
  const lora = storedLora ? withVariables(storedLora.tensors, select) : undefined;
  const pools = model.mos ? withVariables(model.mos.pools, select) : undefined;
  const mosNorms = model.mos ? withVariables(model.mos.norms, select) : undefined;
  const own = (tensors: Map<string, tf.Tensor>, variables: Map<string, tf.Variable>) => {
    for (const [name, t] of tensors) if (!variables.has(name)) tensors.set(name, tf.clone(t));
    return tensors;
  };
  const decoderTensors = own(weights.tensors, weights.variables);
  const loraTensors = lora && own(lora.tensors, lora.variables);
  const generated =
    loraTensors &&
    model.generatedLora &&
    new GeneratedLora(model.generatedLora.spec, loraTensors, model.generatedLora.scale);
  const adapter = generated ?? (loraTensors && new DepthwiseLora(loraTensors, model.lora!.scale));
  const dictionary = atoms ? new MasaDictionary(own(atoms.tensors, atoms.variables)) : undefined;
  const mos =
    model.mos && pools && mosNorms
      ? new MosLora(
          own(pools.tensors, pools.variables),
          model.mos.tables,
          model.mos.section,
          own(mosNorms.tensors, mosNorms.variables),
          model.mos.scale,
        )
      : undefined;
  const decoder = new Decoder(model.decoder.config, decoderTensors, {
    ...((adapter ?? mos) ? { adapter: adapter ?? mos } : {}),
    ...(dictionary ? { derived: dictionary } : {}),
  });
  // A MoR router always trains (fresh weights are useless frozen), whatever the selection.
  // The loss-free balancing bias is a Variable too, but frozen: the run assigns it, gradients never do.
  const router = model.routerParams ? withVariables(model.routerParams, (name) => name !== balanceBiasKey) : undefined;
  if (router)
    for (const [name, t] of router.tensors)
      if (!router.variables.has(name))
        router.tensors.set(
          name,
          tf.tidy(() => tf.variable(tf.clone(t), false)),
        ); // the clone's handle goes
  const params = new Map([
    ...weights.variables,
    ...(atoms?.variables ?? []),
    ...(lora?.variables ?? []),
    ...(pools?.variables ?? []),
    ...(mosNorms?.variables ?? []),
    ...(router?.variables ?? []),
  ]);
  if (params.size === 0)
    throw new RangeError(
      `--trainable ${selection} selects no parameter of this model${selection === 'lora' ? ' (it has no LoRA: train a new one with --lora-rank R, convert it first, or train shared+lora / all)' : ''}`,
    );
  // the copy's own LoRA replaces the original's (a MoS model's materialised factors would go stale as its pools train)
  const { lora: _dense, generatedLora: _stored, mos: _pools, ...rest } = model;
  return {
    model: {
      ...rest,
      decoder,
      ...(mos ? { mos } : {}),
      ...(generated ? { generatedLora: generated } : adapter instanceof DepthwiseLora ? { lora: adapter } : {}),
      ...(router ? { routerParams: router.tensors } : {}),
      ...(dictionary && model.masa ? { masa: { section: model.masa.section, dictionary } } : {}),
    },
    params,
    tensors: new Map([
      ...decoderTensors,
      ...(dictionary?.tensors ?? []),
      ...(adapter?.tensors ?? []),
      ...(mos?.pools ?? []),
      ...(mos?.norms ?? []),
      ...(router?.tensors ?? []),
    ]),
  };
}
