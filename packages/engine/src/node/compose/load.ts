import { join, resolve } from 'node:path';
import {
  checkCoefficients,
  freshCoefficients,
  isLinearComposition,
  type CompositionSpec,
  type DepthwiseLora,
} from '@recur/lora';
import { tf } from '@recur/tensor';
import { disposeModel, type LoadedModel } from '../../model.js';
import { baseFingerprint } from '../fingerprint.js';
import { foldAndFree, withComposition } from './apply.js';
import { CompositionError } from './errors.js';
import { COEFFICIENTS_FILE, COMPOSITION_FILE, readCoefficients, readCompositionRecord, specOf } from './folder.js';
import { loadParts, type LoadedPart } from './parts.js';

/**
 * Loads a composition folder (recur train --compose) onto `model`, the base it was trained on (checked as
 * readComposition says). Takes ownership of `model` (freed on failure); see withComposition for what the
 * result runs.
 */
export async function loadComposition(model: LoadedModel, dir: string): Promise<LoadedModel> {
  try {
    const read = await readComposition(model, dir);
    return withComposition(model, { dir: resolve(dir), ...read });
  } catch (error) {
    disposeModel(model);
    throw error;
  }
}

/**
 * A ScaLearn composition folder folded into the one LoRA it equals (scaledLora, exact), for `model` (which it
 * does not take): what serve loads a composition as, a per-request adapter like any other. A gated
 * composition is refused: its gates read each token's hidden state, so no fixed LoRA equals it.
 */
export async function loadCompositionLora(model: LoadedModel, dir: string): Promise<DepthwiseLora> {
  const record = await readCompositionRecord(dir);
  if (!isLinearComposition(record.method))
    throw new CompositionError(
      dir,
      `a ${record.method} composition mixes its adapters per token (input-dependent), so it folds into no one LoRA; only ScaLearn compositions load as an adapter`,
    );
  const { spec, parts, coefficients } = await readComposition(model, dir);
  return foldAndFree(
    parts.map((p) => p.lora),
    coefficients,
    spec,
  );
}

/**
 * A composition folder's spec, parts and coefficients for `model`: the base fingerprint must match, every part
 * must still be the adapter it was (sha256), and the coefficients must be exactly the names and shapes the parts
 * need. The caller owns what it returns.
 */
async function readComposition(
  model: LoadedModel,
  dir: string,
): Promise<{ spec: CompositionSpec; parts: LoadedPart[]; coefficients: Map<string, tf.Tensor> }> {
  const record = await readCompositionRecord(dir);
  const actual = baseFingerprint(model);
  if (record.base.fingerprint !== actual)
    throw new CompositionError(
      join(dir, COMPOSITION_FILE),
      `the composition was trained on ${record.base.path} (weights ${record.base.fingerprint.slice(0, 19)}), not on ${model.source.path} (weights ${actual.slice(0, 19)}): a composition for another base is refused`,
    );
  const spec = specOf(record);
  const parts = await loadParts(
    model,
    record.parts.map((p) => p.path),
    record.parts.map((p) => ({ path: p.path, baseFingerprint: p.base_fingerprint, sha256: p.sha256 })),
  );
  try {
    const arrays = await readCoefficients(dir);
    const expected = freshCoefficients(
      spec,
      model.decoder.config,
      parts.map((p) => p.lora),
    );
    checkCoefficients(expected, arrays, join(resolve(dir), COEFFICIENTS_FILE));
    const coefficients = new Map([...arrays].map(([key, t]) => [key, tf.tensor(t.data, [...t.shape], 'float32')]));
    return { spec, parts, coefficients };
  } catch (error) {
    for (const part of parts) part.lora.dispose();
    throw error;
  }
}
