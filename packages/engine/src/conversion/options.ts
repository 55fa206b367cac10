import type { DecoderConfig, RecursiveOptions } from '@recur/graph';
import type { HyperSection, LoraInit, LoraKind, LoraRanks, MosSettings, NormMode } from '@recur/lora';

export interface ConvertOptions extends RecursiveOptions {
  /** LoRA ranks per module group; 0 for no adapters. */
  readonly ranks: LoraRanks;
  readonly loraInit: LoraInit;
  readonly norms: NormMode;
  /** Multiplier of B·A; 1 keeps SVD-initialised factors exact. */
  readonly loraScale?: number;
  /** How the per-loop LoRA is stored: 'depthwise' (default), 'mos' (factors gathered from shared shard pools), or generated ('hyper', 'scaled'; see @recur/lora kinds.ts). */
  readonly loraKind?: LoraKind;
  /** loraKind 'mos': pool size, shards per vector, private fraction, strategy switches, seed. */
  readonly mos?: MosSettings;
  /** loraKind 'hyper': the width of its loop and position embeddings. */
  readonly hyper?: HyperSection;
  /** Progress of the LoRA initialisation (one unit per shared step × module). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** One tensor of a converted model, named and shaped up front and made only when asked for. */
export interface LazyTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: 'F32';
  readonly data: () => Promise<Float32Array>;
}

/** Where a conversion reads its source model from: a checkpoint file (streamed) or a loaded decoder (in memory). */
export interface ConversionSource {
  /** The source's path, as config.json's `recur.source.path` records it. */
  readonly path: string;
  /** The source's decoder config (its head tied where the file's copy is the embedding's). */
  readonly config: DecoderConfig;
  /** The source's parameter count (`recur.source.parameters`). */
  readonly parameters: number;
  /** One source tensor by checkpoint key; asked only for what the tensor being made needs. */
  read(key: string): Promise<Float32Array>;
}
