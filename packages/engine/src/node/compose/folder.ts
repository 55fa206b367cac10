import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { checkFinite, openSafetensors, writeSafetensors } from '@recur/checkpoint';
import { openFileSource } from '@recur/checkpoint/node';
import { compositionMethods, type CompositionSpec } from '@recur/lora';
import type { tf } from '@recur/tensor';
import { json, writeAtomic } from '../files.js';
import { PRODUCER } from '../ownOutput.js';
import { CompositionError } from './errors.js';
import type { CompositionPart } from './parts.js';

export const COMPOSITION_FILE = 'composition.json';
export const COEFFICIENTS_FILE = 'coefficients.safetensors';

/** composition.json: what the composition combines and how; the learned values are in coefficients.safetensors. */
export interface CompositionRecord {
  readonly format: 'recur-composition';
  readonly version: 1;
  readonly method: CompositionSpec['method'];
  readonly share_layers: boolean;
  readonly gate?: CompositionSpec['gate'];
  /** The base model the parts and coefficients were fitted on, by path and weight fingerprint. */
  readonly base: { readonly path: string; readonly fingerprint: string };
  readonly parts: readonly { readonly path: string; readonly base_fingerprint: string; readonly sha256: string }[];
  /** Learned values (coefficients or gate weights and biases). */
  readonly parameters: number;
}

export const specOf = (record: CompositionRecord): CompositionSpec => ({
  method: record.method,
  shareLayers: record.share_layers,
  ...(record.gate && { gate: record.gate }),
});

/**
 * Writes a composition folder at `dir` (beside it first, then renamed into place, so a reader never
 * sees half of one): composition.json naming its parts, coefficients.safetensors with the learned values.
 */
export async function writeCompositionFolder(
  dir: string,
  content: {
    readonly spec: CompositionSpec;
    readonly base: { readonly path: string; readonly fingerprint: string };
    readonly parts: readonly CompositionPart[];
    readonly coefficients: ReadonlyMap<string, tf.Tensor>;
  },
): Promise<void> {
  const temp = `${dir}.tmp-${process.pid}`;
  await rm(temp, { recursive: true, force: true });
  await mkdir(temp);
  const entries = [...content.coefficients].map(([name, t]) => ({
    name,
    shape: t.shape,
    dtype: 'F32' as const,
    data: t.dataSync() as Float32Array,
  }));
  const record: CompositionRecord = {
    format: 'recur-composition',
    version: 1,
    method: content.spec.method,
    share_layers: content.spec.shareLayers,
    ...(content.spec.method === 'gated' && { gate: content.spec.gate ?? 'softmax' }),
    base: { path: resolve(content.base.path), fingerprint: content.base.fingerprint },
    parts: content.parts.map((p) => ({ path: p.path, base_fingerprint: p.baseFingerprint, sha256: p.sha256 })),
    parameters: entries.reduce((n, e) => n + e.data.length, 0),
  };
  await writeAtomic(join(temp, COEFFICIENTS_FILE), writeSafetensors(entries, { format: 'pt', producer: PRODUCER }));
  await writeAtomic(join(temp, COMPOSITION_FILE), json(record));
  await rm(dir, { recursive: true, force: true });
  await rename(temp, dir);
}

/** Reads composition.json, refusing one that is not a composition this version writes. */
export async function readCompositionRecord(dir: string): Promise<CompositionRecord> {
  const file = join(dir, COMPOSITION_FILE);
  const text = await readFile(file, 'utf8').catch(() => {
    throw new CompositionError(
      dir,
      `not a composition folder: no ${COMPOSITION_FILE} (recur train --compose writes one)`,
    );
  });
  let record: CompositionRecord;
  try {
    record = JSON.parse(text) as CompositionRecord;
  } catch (error) {
    throw new CompositionError(file, `not valid JSON (${(error as Error).message})`);
  }
  if (record.format !== 'recur-composition' || record.version !== 1)
    throw new CompositionError(file, `format ${record.format} version ${record.version}; expected recur-composition 1`);
  if (!compositionMethods.includes(record.method))
    throw new CompositionError(file, `method "${record.method}" is not one of ${compositionMethods.join(', ')}`);
  if (!Array.isArray(record.parts) || record.parts.length < 2)
    throw new CompositionError(file, 'a composition names at least two parts');
  if (typeof record.base?.fingerprint !== 'string') throw new CompositionError(file, 'records no base fingerprint');
  return record;
}

/** coefficients.safetensors as arrays by name, refusing NaN and infinities. */
export async function readCoefficients(
  dir: string,
): Promise<Map<string, { data: Float32Array; shape: readonly number[] }>> {
  const source = await openFileSource(join(dir, COEFFICIENTS_FILE));
  try {
    const file = await openSafetensors(source);
    const out = new Map<string, { data: Float32Array; shape: readonly number[] }>();
    for (const info of file.tensors) {
      const data = await file.read(info.name);
      checkFinite(source.name, info.name, data, info.shape);
      out.set(info.name, { data, shape: info.shape });
    }
    return out;
  } finally {
    await source.close?.();
  }
}
