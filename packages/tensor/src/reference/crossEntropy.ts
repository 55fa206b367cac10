/** Float64 reference of `crossEntropy`: logits [T·V] row-major; a negative target skips its row. */
export function refCrossEntropy(logits: ArrayLike<number>, targets: ArrayLike<number>, vocab: number): number {
  let total = 0;
  let counted = 0;
  for (let t = 0; t < targets.length; t++) {
    const target = targets[t]!;
    if (target < 0) continue;
    let max = -Infinity;
    for (let v = 0; v < vocab; v++) max = Math.max(max, logits[t * vocab + v]!);
    let sum = 0;
    for (let v = 0; v < vocab; v++) sum += Math.exp(logits[t * vocab + v]! - max);
    total -= logits[t * vocab + target]! - max - Math.log(sum);
    counted++;
  }
  return total / Math.max(1, counted);
}
