import { tf } from '@recur/tensor';

/**
 * The MASA op (Share Your Attention: Transformer Weight Sharing via Matrix-based Dictionary
 * Learning, 2025): layer l's matrix is W_l = Σ_s c[l, s] · D_s, a combination of S shared atoms.
 * atoms [S, out, in], coefficients [L, S] → W_layer [out, in]. Plain tf ops, so autodiff reaches
 * atoms and coefficients; the caller's tidy owns the result.
 */
export function combineAtoms(atoms: tf.Tensor3D, coefficients: tf.Tensor2D, layer: number): tf.Tensor2D {
  const [count, out, inner] = atoms.shape;
  const [layers, width] = coefficients.shape;
  if (width !== count) throw new RangeError(`combineAtoms: ${width} coefficients per layer for ${count} atoms`);
  if (!Number.isInteger(layer) || layer < 0 || layer >= layers)
    throw new RangeError(`combineAtoms: layer ${layer} outside 0..${layers - 1}`);
  const row = tf.slice(coefficients, [layer, 0], [1, count]); // [1, S]
  const flat = tf.reshape(atoms, [count, out * inner]); // [S, out·in]
  return tf.reshape(tf.matMul(row, flat), [out, inner]); // [out, in]
}

/**
 * Float64 reference of `combineAtoms` for every layer at once: atoms [S, size] and coefficients
 * [L, S] (row-major) → W [L, size], each entry summed in double precision. Also how a saved model's
 * matrices are materialised at load (once, exactly as the sum says).
 */
export function combineAtomsReference(
  atoms: ArrayLike<number>,
  coefficients: ArrayLike<number>,
  shape: { readonly atoms: number; readonly layers: number; readonly size: number },
): Float64Array {
  const { atoms: count, layers, size } = shape;
  if (atoms.length !== count * size || coefficients.length !== layers * count)
    throw new RangeError(
      `combineAtomsReference: ${atoms.length} atom values and ${coefficients.length} coefficients do not fit ${count} atoms of ${size} for ${layers} layers`,
    );
  const out = new Float64Array(layers * size);
  for (let l = 0; l < layers; l++) {
    const row = out.subarray(l * size, (l + 1) * size);
    for (let s = 0; s < count; s++) {
      const c = coefficients[l * count + s] as number;
      if (c === 0) continue;
      const base = s * size;
      for (let k = 0; k < size; k++) row[k] = (row[k] as number) + c * (atoms[base + k] as number);
    }
  }
  return out;
}
