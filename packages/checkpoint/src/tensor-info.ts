import type { PackedQuantRows } from './gguf/quant/pack.js';
/** What a reader knows about one tensor before reading it. */
export interface TensorInfo {
  readonly name: string;
  /** Row-major, outermost first (Hugging Face / PyTorch order). */
  readonly shape: number[];
  /** The stored element type (`F32`, `F16`, `BF16`, `Q8_0`, …); reads always return float32. */
  readonly dtype: string;
}

/** A set of named tensors read on demand. */
export interface TensorStore {
  /** The file (or index) the tensors come from, for messages. */
  readonly file: string;
  readonly tensors: readonly TensorInfo[];
  has(name: string): boolean;
  /** Decoded to float32; throws CheckpointError 'missing-tensor' for an unknown name. */
  read(name: string): Promise<Float32Array>;
  /**
   * A Q8_0/Q4_0 matrix's blocks repacked, undecoded (GGUF only); undefined for any other type. For
   * runtimes with quantized kernels; `read` still gives the same tensor dequantized.
   */
  readQuantized?(name: string): Promise<PackedQuantRows | undefined>;
  /** The file a tensor's bytes are in, where it differs from `file` (a shard of a sharded checkpoint). */
  fileOf?(name: string): string;
  close(): Promise<void>;
}

/** Product of the dimensions, or Infinity once it exceeds `limit` (so huge shapes cannot overflow). */
export function elementCount(shape: readonly number[], limit = Number.MAX_SAFE_INTEGER): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return shape.includes(0) ? 0 : count > limit ? Infinity : count;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
