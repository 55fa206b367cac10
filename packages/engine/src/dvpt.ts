import { Decoder } from '@recur/graph';
import { LoraError, withDvpt, type DvptModules } from '@recur/lora';
import type { LoadedModel } from './model.js';

/**
 * The model with DVPT modules after every step (see @recur/lora's dvpt/op.ts): a new Decoder over the
 * same weights whose adapter is the model's own LoRA (if any) followed by the DVPT update. Takes
 * ownership of `model` and `modules`; dispose the result with disposeModel. DVPT runs on the tfjs
 * decoder only (the fused path has no such kernel and says so), on whole sequences: router models,
 * whose tokens skip loops, are refused.
 */
export function withDvptModules(model: LoadedModel, modules: DvptModules): LoadedModel {
  if (model.routerParams)
    throw new LoraError(`${model.source.path}: DVPT on a router model is not supported (tokens skip loops)`);
  if (model.dvpt) throw new LoraError(`${model.source.path}: the model already has DVPT modules`);
  modules.checkFits(model.decoder.config, model.source.path);
  const decoder = new Decoder(model.decoder.config, model.decoder.weights, {
    adapter: withDvpt(modules, model.lora),
  });
  return { ...model, decoder, dvpt: modules };
}

/** Why a model cannot be exported or merged: a DVPT update depends on each input, so no dense weight equals it. */
export function dvptExportRefusal(what: string): string {
  return `${what}: a DVPT module is input-dependent (its prompts attend to each sequence's tokens), so it cannot be merged into dense weights or exported; run it with generate/eval --dvpt DIR`;
}
