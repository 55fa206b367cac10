import { tf } from '@recur/tensor';

/**
 * The MoS shard-gather op: one step's LoRA factor from its pool and its index-table row. Slot i·K + k
 * holds the pool row of rank vector i's k-th shard (K = shards per vector), so gathering the slots in
 * order and cutting them into `rank` runs of K shards lays the vectors out whole. Differentiable in the
 * pool (tf.gather's gradient scatters back), which is how training reaches the shared shards.
 */
export function mosGather(pool: tf.Tensor2D, slots: Int32Array, rank: number, factor: 'A' | 'B'): tf.Tensor2D {
  return tf.tidy(() => {
    const shards = tf.gather(pool, tf.tensor1d(slots, 'int32')); // [rank·K, shard]
    const vectors = tf.reshape(shards, [rank, -1]) as tf.Tensor2D; // [rank, in] for A, [rank, out] for B
    return factor === 'A' ? vectors : tf.transpose(vectors); // A [rank, in], B [out, rank]
  });
}

/** Float64 reference of `mosGather` on plain arrays (pool [rows, shard] row-major). */
export function mosGatherReference(
  pool: Float64Array,
  shard: number,
  slots: Int32Array,
  rank: number,
  factor: 'A' | 'B',
): Float64Array {
  const shardsPerVector = slots.length / rank;
  const width = shard * shardsPerVector; // in (A) or out (B)
  const out = new Float64Array(rank * width);
  for (let i = 0; i < rank; i++)
    for (let k = 0; k < shardsPerVector; k++)
      for (let t = 0; t < shard; t++) {
        const value = pool[slots[i * shardsPerVector + k]! * shard + t]!;
        const column = k * shard + t;
        if (factor === 'A')
          out[i * width + column] = value; // A [rank, in]
        else out[column * rank + i] = value; // B [out, rank]
      }
  return out;
}

/** Float64 reference of a LoRA delta, scale·(x·Aᵀ)·Bᵀ: x [T, in], A [r, in], B [out, r] → [T, out]. */
export function loraDeltaReference(
  x: Float64Array,
  a: Float64Array,
  b: Float64Array,
  dims: { readonly tokens: number; readonly inputs: number; readonly outputs: number; readonly rank: number },
  scale: number,
): Float64Array {
  const { tokens, inputs, outputs, rank } = dims;
  const out = new Float64Array(tokens * outputs);
  for (let t = 0; t < tokens; t++) {
    const low = new Float64Array(rank); // [r]
    for (let j = 0; j < rank; j++) for (let i = 0; i < inputs; i++) low[j]! += x[t * inputs + i]! * a[j * inputs + i]!;
    for (let o = 0; o < outputs; o++) {
      let sum = 0;
      for (let j = 0; j < rank; j++) sum += low[j]! * b[o * rank + j]!;
      out[t * outputs + o] = scale * sum;
    }
  }
  return out;
}
