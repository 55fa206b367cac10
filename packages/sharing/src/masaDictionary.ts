import type { DerivedWeights } from '@recur/graph';
import { tf } from '@recur/tensor';
import { combineAtoms, combineAtomsReference } from './combine.js';
import { atomsKey, coefficientsKey, derivedKey, masaModules, type MasaModule } from './keys.js';

type Arrays = ReadonlyMap<string, { readonly data: Float32Array; readonly shape: readonly number[] }>;

/**
 * A model's MASA dictionaries (Share Your Attention: Transformer Weight Sharing via Matrix-based
 * Dictionary Learning, 2025): per shared projection type, atoms [S, out, in] and coefficients [L, S].
 * As `DerivedWeights` it rebuilds W_l = Σ_s c[l, s]·D_s at every use (training: gradients reach the
 * atoms); `materialise()` computes every W_l once (loading, the fast path, export).
 */
export class MasaDictionary implements DerivedWeights {
  readonly modules: readonly MasaModule[];
  readonly keys: ReadonlySet<string>;
  private readonly sources: ReadonlyMap<string, { module: MasaModule; layer: number }>;

  /** @param tensors atoms and coefficients by MASA key (owned: `dispose()` frees them) */
  constructor(readonly tensors: ReadonlyMap<string, tf.Tensor>) {
    this.modules = masaModules.filter((m) => tensors.has(atomsKey(m)));
    if (this.modules.length === 0) throw new RangeError('MASA: no masa.*.atoms tensor found');
    const sources = new Map<string, { module: MasaModule; layer: number }>();
    for (const module of this.modules) {
      const { atoms, coefficients } = this.pair(module);
      if (atoms.rank !== 3 || coefficients.rank !== 2 || coefficients.shape[1] !== atoms.shape[0])
        throw new RangeError(
          `MASA ${module}: atoms [${atoms.shape}] and coefficients [${coefficients.shape}] do not fit ([S, out, in] and [L, S])`,
        );
      for (let layer = 0; layer < (coefficients.shape[0] as number); layer++)
        sources.set(derivedKey(layer, module), { module, layer });
    }
    this.sources = sources;
    this.keys = new Set(sources.keys());
  }

  static fromArrays(arrays: Arrays): MasaDictionary {
    const tensors = new Map<string, tf.Tensor>();
    for (const [key, { data, shape }] of arrays) tensors.set(key, tf.tensor(data, [...shape], 'float32'));
    return new MasaDictionary(tensors);
  }

  /** S of one projection type. */
  atomCount(module: MasaModule): number {
    return this.pair(module).atoms.shape[0];
  }

  weight(key: string): tf.Tensor {
    const source = this.sources.get(key);
    if (!source) throw new RangeError(`MASA: ${key} is not a shared weight`);
    const { atoms, coefficients } = this.pair(source.module);
    return combineAtoms(atoms as tf.Tensor3D, coefficients as tf.Tensor2D, source.layer);
  }

  /** Every shared layer matrix, W_l = Σ_s c[l, s]·D_s summed in float64, by decoder key. */
  materialise(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const module of this.modules) {
      const { atoms, coefficients } = this.pair(module);
      const [count, rows, cols] = atoms.shape as [number, number, number];
      const layers = coefficients.shape[0] as number;
      const size = rows * cols;
      const all = combineAtomsReference(atoms.dataSync(), coefficients.dataSync(), { atoms: count, layers, size });
      for (let l = 0; l < layers; l++)
        out.set(derivedKey(l, module), Float32Array.from(all.subarray(l * size, (l + 1) * size)));
    }
    return out;
  }

  /** Stored MASA parameters (atoms and coefficients). */
  get parameterCount(): number {
    let total = 0;
    for (const t of this.tensors.values()) total += t.size;
    return total;
  }

  /** Parameters the shared matrices would take stored one per layer. */
  get replacedCount(): number {
    return this.modules.reduce((n, m) => n + this.replaced(m), 0);
  }

  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
  }

  private replaced(module: MasaModule): number {
    const { atoms, coefficients } = this.pair(module);
    return (coefficients.shape[0] as number) * (atoms.shape[1] as number) * (atoms.shape[2] as number);
  }

  private pair(module: MasaModule): { atoms: tf.Tensor; coefficients: tf.Tensor } {
    const atoms = this.tensors.get(atomsKey(module));
    const coefficients = this.tensors.get(coefficientsKey(module));
    if (!atoms || !coefficients) throw new RangeError(`MASA ${module}: atoms or coefficients missing`);
    return { atoms, coefficients };
  }
}
