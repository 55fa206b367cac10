/**
 * `size` standard-normal samples from a seeded generator: a 32-bit counter hashed by an
 * xorshift-multiply finaliser for uniforms, Box–Muller for the normals. Same seed, same values.
 */
export function gaussianArray(size: number, seed: number): Float32Array {
  const uniform = seededUniform(seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(1 - uniform())); // 1 - u ∈ (0, 1]: log never sees 0
    const angle = 2 * Math.PI * uniform();
    out[i] = radius * Math.cos(angle);
    if (i + 1 < size) out[i + 1] = radius * Math.sin(angle);
  }
  return out;
}

/** Uniform [0, 1) from a Weyl sequence through a 32-bit avalanche hash. */
function seededUniform(seed: number): () => number {
  let counter = Math.imul(seed >>> 0, 0x9e3779b1) >>> 0;
  return () => {
    counter = (counter + 0x632be5ab) >>> 0;
    let h = counter;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
  };
}
