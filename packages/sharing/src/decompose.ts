import { layerWeightSpecs, type DecoderConfig } from '@recur/graph';
import { gramSvd, qr } from '@recur/tensor';
import { atomsKey, coefficientsKey, derivedKey, type MasaModule } from './keys.js';

export interface MasaInitOptions {
  readonly config: DecoderConfig;
  /** The pretrained decoder's weights by checkpoint key. */
  readonly source: ReadonlyMap<string, Float32Array>;
  /** S: atoms per projection type, 1 ≤ S ≤ L. */
  readonly atoms: number;
  readonly modules: readonly MasaModule[];
}

/** How much of one projection type's stacked weights S atoms keep: Σ_{s≤S} σ_s² / ‖X‖_F². */
export interface MasaEnergy {
  readonly module: MasaModule;
  readonly captured: number;
}

export interface MasaInit {
  /** Atoms [S, out, in] and coefficients [L, S] per module, by MASA key. */
  readonly arrays: Map<string, { data: Float32Array; shape: readonly number[] }>;
  readonly energy: MasaEnergy[];
}

/**
 * MASA initialised from a pretrained model (Share Your Attention: Transformer Weight Sharing via
 * Matrix-based Dictionary Learning, 2025). Per projection type, stack the L layers' matrices as rows
 * X [L, out·in]; the atoms are X's top-S right singular vectors and the coefficients X's projections
 * on them, c = X·D. Not centred: a mean atom plus S − 1 components is itself a rank-S factorisation
 * of X, so by Eckart–Young it cannot reconstruct X better than the plain truncated SVD at equal S,
 * and the stored form stays the paper's Σ c·D with no extra term. With S = L the atoms span X's rows
 * and the conversion is lossless (up to float32 rounding).
 */
export function masaFromPretrained(options: MasaInitOptions): MasaInit {
  const { config, atoms } = options;
  const layers = config.numLayers;
  if (!Number.isInteger(atoms) || atoms < 1 || atoms > layers)
    throw new RangeError(`--atoms must be an integer in 1..${layers} (the model's layers), got ${atoms}`);
  if (options.modules.length === 0) throw new RangeError('--masa-modules names no module');
  const arrays: MasaInit['arrays'] = new Map();
  const energy: MasaEnergy[] = [];
  for (const module of options.modules) {
    const shape = moduleShape(config, module);
    const size = shape[0] * shape[1];
    const stacked = stack(options.source, module, layers, size); // [L, out·in]
    const basis = orthonormalBasis(stacked, layers, size, atoms); // [size, S] row-major
    const coefficients = projections(stacked, basis, layers, size, atoms); // [L, S]
    arrays.set(atomsKey(module), { data: transposed(basis, size, atoms), shape: [atoms, ...shape] });
    arrays.set(coefficientsKey(module), { data: Float32Array.from(coefficients), shape: [layers, atoms] });
    energy.push({ module, captured: capturedEnergy(stacked, coefficients) });
  }
  return { arrays, energy };
}

/** [out, in] of a projection type (the same at every layer). */
export function moduleShape(config: DecoderConfig, module: MasaModule): [number, number] {
  const spec = layerWeightSpecs(config, 0).find((s) => s.name === derivedKey(0, module));
  if (spec?.shape.length !== 2) throw new RangeError(`no 2-D weight for ${module}`);
  return [spec.shape[0] as number, spec.shape[1] as number];
}

function stack(source: ReadonlyMap<string, Float32Array>, module: MasaModule, layers: number, size: number) {
  const out = new Float32Array(layers * size);
  for (let l = 0; l < layers; l++) {
    const key = derivedKey(l, module);
    const data = source.get(key);
    if (!data || data.length !== size) throw new RangeError(`MASA init: ${key} missing or not ${size} values`);
    out.set(data, l * size);
  }
  return out;
}

/**
 * X's top-S right singular vectors (exact Gram SVD, float64), re-orthonormalised in order: tiny
 * singular values make Xᵀe/σ drift from orthogonal, and the projections c = X·D are only the
 * least-squares coefficients over an orthonormal D.
 */
function orthonormalBasis(stacked: Float32Array, layers: number, size: number, atoms: number): Float64Array {
  const { v } = gramSvd(stacked, layers, size, atoms); // [size, S]
  return qr(v, size, atoms);
}

/** c[l, s] = Σ_k X[l, k] · D[k, s], float64. */
function projections(stacked: Float32Array, basis: Float64Array, layers: number, size: number, atoms: number) {
  const out = new Float64Array(layers * atoms);
  for (let l = 0; l < layers; l++) {
    for (let k = 0; k < size; k++) {
      const x = stacked[l * size + k] as number;
      for (let s = 0; s < atoms; s++)
        out[l * atoms + s] = (out[l * atoms + s] as number) + x * (basis[k * atoms + s] as number);
    }
  }
  return out;
}

/** Row-major [size, S] → [S, size] float32 (atom s is row s). */
function transposed(basis: Float64Array, size: number, atoms: number): Float32Array {
  const out = new Float32Array(atoms * size);
  for (let k = 0; k < size; k++) for (let s = 0; s < atoms; s++) out[s * size + k] = basis[k * atoms + s] as number;
  return out;
}

/** ‖c‖² / ‖X‖² (D orthonormal, so ‖c‖ is the norm of X's part in the atoms' span); 1 for a zero X. */
function capturedEnergy(stacked: Float32Array, coefficients: Float64Array): number {
  let total = 0;
  for (const x of stacked) total += x * x;
  let kept = 0;
  for (const c of coefficients) kept += c * c;
  return total === 0 ? 1 : Math.min(1, kept / total);
}
