// The Mixture-of-Recursions exit rule of `pnpm experiment:payoff` (issue 15 §4): a router (Bae et al. 2025,
// "Mixture-of-Recursions", arXiv 2507.10524) trained on the uptrained recursive model, so that each token's depth
// is chosen from its own hidden state — served per token by continuous depth-wise batching and scored under
// exactly that routing (every position routed, the KV mode it was trained with).
import { disposeModel, withRouter, withRouterThreshold } from '../../packages/engine/dist/index.js';
import { trainModel } from '../../packages/engine/dist/node.js';
import { distilledRunOptions, finishedRun, uptrainedRun } from './payoffModel.mjs';

/** @typedef {import('../../packages/engine/dist/index.js').LoadedModel} LoadedModel */
/** @typedef {'expert' | 'token'} RouterKind */
/**
 * @typedef {{ kind: RouterKind, model: LoadedModel, kvMode: string, steps: number, tokens: number, seconds: number,
 *   tokensPerSecond: number, reused: boolean, thresholds: readonly number[] | null }} RoutedModel
 */

/** The curve's name for a router rule. @param {RouterKind} kind */
export const routerRule = (kind) => `router:${kind}`;

/**
 * `base` (the uptrained recursive model) with a fresh `kind` router trained for `tokens` tokens on `textFile`:
 * router and LoRA train (the shared block stays as uptrained), distilled from `teacher` (0.5 · T² KL at T = 2 +
 * 0.5 · CE) under MoR's routed objective. Expert-choice routers get per-recursion decode thresholds calibrated
 * on `calibration` (held-out windows never scored), as `recur train --router expert` does. A finished run of
 * the same settings in `out` is reused.
 * @param {LoadedModel} base @param {LoadedModel} teacher
 * @param {{ kind: RouterKind, textFile: string, tokens: number, batch: number, seqLen: number, out: string, seed: number,
 *   calibration: readonly Int32Array[] }} run
 * @returns {Promise<RoutedModel>}
 */
export async function routedModel(base, teacher, { kind, textFile, tokens, batch, seqLen, out, seed, calibration }) {
  const steps = Math.max(1, Math.round(tokens / (batch * seqLen)));
  const trained =
    (await finishedRun(out, steps)) ??
    (await trainRouter(base, teacher, { kind, steps, batch, seqLen, textFile, out, seed }));
  const calibrated =
    kind === 'expert' ? withRouterThreshold(trained.model, 'calibrated', { windows: calibration }) : trained.model;
  const router = calibrated.recur?.router;
  if (!router) throw new Error(`${out}: the trained model has no router section`);
  console.log(
    `router | ${kind} | ${trained.tokens} tokens | kv ${router.kvMode}${router.thresholds ? ` | thresholds ${router.thresholds.map((t) => t.toFixed(3)).join(', ')}` : ''}`,
  );
  return {
    kind,
    model: calibrated, // shares the loaded model's tensors: disposing it frees them
    kvMode: router.kvMode,
    steps,
    tokens: trained.tokens,
    seconds: trained.seconds,
    tokensPerSecond: trained.tokensPerSecond,
    reused: trained.reused,
    thresholds: router.thresholds ?? null,
  };
}

/**
 * @param {LoadedModel} base @param {LoadedModel} teacher
 * @param {{ kind: RouterKind, steps: number, batch: number, seqLen: number, textFile: string, out: string, seed: number }} run
 */
async function trainRouter(base, teacher, { kind, steps, batch, seqLen, textFile, out, seed }) {
  const fresh = withRouter(base, { kind, seed: seed + 1 }); // shares base's tensors; only the router is new
  try {
    const result = await trainModel({
      model: fresh,
      teacher,
      textFile,
      out,
      steps,
      seqLen,
      batchSize: batch,
      trainable: 'lora', // + the router, which always trains
      ...distilledRunOptions(
        steps,
        seed,
        (event) => `router ${kind} | step ${event.step}/${event.steps} | loss ${event.loss.toFixed(3)}`,
      ),
    });
    return await uptrainedRun(result, false);
  } finally {
    for (const t of fresh.routerParams?.values() ?? []) t.dispose();
  }
}

/** Frees a routed model (its tensors are the loaded run's). @param {RoutedModel} routed */
export function disposeRouted(routed) {
  disposeModel(routed.model);
}
