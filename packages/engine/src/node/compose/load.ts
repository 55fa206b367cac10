import { join, resolve } from 'node:path';
import { checkCoefficients, freshCoefficients } from '@recur/lora';
import { tf } from '@recur/tensor';
import { disposeModel, type LoadedModel } from '../../model.js';
import { baseFingerprint } from '../fingerprint.js';
import { withComposition } from './apply.js';
import { CompositionError } from './errors.js';
import { COEFFICIENTS_FILE, COMPOSITION_FILE, readCoefficients, readCompositionRecord, specOf } from './folder.js';
import { loadParts } from './parts.js';

/**
 * Loads a composition folder (recur train --compose) onto `model`, the base it was trained on: the
 * base fingerprint must match, every part must still be the adapter it was (sha256), and the
 * coefficients must be exactly the names and shapes the parts need. Takes ownership of `model` (freed
 * on failure); see withComposition for what the result runs.
 */
export async function loadComposition(model: LoadedModel, dir: string): Promise<LoadedModel> {
  try {
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
    const arrays = await readCoefficients(dir).catch((error: unknown) => {
      for (const part of parts) part.lora.dispose();
      throw error;
    });
    try {
      const expected = freshCoefficients(
        spec,
        model.decoder.config,
        parts.map((p) => p.lora),
      );
      checkCoefficients(expected, arrays, join(resolve(dir), COEFFICIENTS_FILE));
    } catch (error) {
      for (const part of parts) part.lora.dispose();
      throw error;
    }
    const coefficients = new Map([...arrays].map(([key, t]) => [key, tf.tensor(t.data, [...t.shape], 'float32')]));
    return withComposition(model, { dir: resolve(dir), spec, parts, coefficients });
  } catch (error) {
    disposeModel(model);
    throw error;
  }
}
