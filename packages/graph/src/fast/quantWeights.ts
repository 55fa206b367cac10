import { quantRowBytes, type FusedRuntime, type QuantFormat, type QuantWeight, type tf } from '@recur/tensor';
import { ConfigError } from '../config.js';

/**
 * A [rows, k] weight kept quantized for the fast path (k a multiple of 32): the quants as the kernels
 * read them (q8_0: k int8 a row; q4_0: k/2 bytes a row in GGUF's nibble order) and one f32 scale per
 * 32-block — 1.125 or 0.625 bytes a weight instead of 4 (see @recur/tensor's quantParams).
 */
export interface PackedQuant {
  readonly format: QuantFormat;
  readonly shape: readonly [number, number];
  readonly quants: Uint8Array;
  readonly scales: Float32Array;
}

/** A matrix as the fast path's linears read it: packed quants (with `quant`) or float32 rows at `w`. */
export interface FastMatrix {
  readonly w: number;
  readonly quant?: QuantWeight;
}

/**
 * Copies a packed weight into the heap (quants 16-byte aligned, then its scales) in one kept
 * tensor that `owned` receives; the caller disposes it.
 */
export function placeQuant(
  name: string,
  packed: PackedQuant,
  expected: readonly number[],
  runtime: FusedRuntime,
  owned: tf.Tensor[],
): FastMatrix {
  const [rows, k] = packed.shape;
  const quantBytes = rows * quantRowBytes(packed.format, k);
  if (
    rows !== expected[0] ||
    k !== expected[1] ||
    k % 32 !== 0 ||
    packed.quants.byteLength !== quantBytes ||
    packed.scales.length !== (rows * k) / 32
  ) {
    throw new ConfigError(
      name,
      `quantized weight ${name} is ${packed.format} [${packed.shape}] with ${packed.quants.byteLength} quant bytes and ${packed.scales.length} scales; expected [${expected}] in whole 32-blocks`,
    );
  }
  for (const s of packed.scales)
    if (!Number.isFinite(s)) throw new ConfigError(name, `quantized weight ${name} has a non-finite block scale`);
  const scalesAt = Math.ceil(quantBytes / 16) * 16;
  const block = runtime.alloc((scalesAt + packed.scales.byteLength) / 4 + 4);
  owned.push(block.tensor);
  const w = Math.ceil(block.offset / 16) * 16;
  const heap = new Uint8Array(runtime.memory.buffer);
  heap.set(packed.quants, w);
  heap.set(new Uint8Array(packed.scales.buffer, packed.scales.byteOffset, packed.scales.byteLength), w + scalesAt);
  return { w, quant: { format: packed.format, scales: w + scalesAt } };
}
