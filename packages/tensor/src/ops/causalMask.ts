// Finite rather than -Infinity: exp() of it is exactly 0 after max subtraction, and a row can never
// turn into NaN (−∞ − −∞) on a backend with loose infinity handling.
export const MASKED_SCORE = -1e9;

/**
 * Additive causal mask for T queries at absolute positions queryOffset..queryOffset+T-1 over keys
 * 0..S-1: 0 where key s <= query position, MASKED_SCORE elsewhere. Row-major [T, S].
 */
export function causalMaskData(queries: number, keys: number, queryOffset: number): Float32Array {
  const mask = new Float32Array(queries * keys); // [T, S]
  for (let t = 0; t < queries; t++) {
    const firstHidden = Math.max(0, queryOffset + t + 1);
    if (firstHidden < keys) mask.fill(MASKED_SCORE, t * keys + firstHidden, (t + 1) * keys);
  }
  return mask;
}

/** True when every query sees every key, i.e. the mask would be all zeros (e.g. one-token decode). */
export function maskIsEmpty(keys: number, queryOffset: number): boolean {
  return queryOffset >= keys - 1;
}
