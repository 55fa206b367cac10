/** mulberry32: a tiny seeded PRNG, so every test sees the same "random" inputs. Returns [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
}

/** `size` uniform values in [-scale, scale). */
export function randomArray(rand: () => number, size: number, scale = 1): Float32Array {
  return Float32Array.from({ length: size }, () => (2 * rand() - 1) * scale);
}
