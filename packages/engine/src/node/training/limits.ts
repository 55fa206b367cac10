import { totalmem } from 'node:os';
import { executionOrder, parameterCount, type DecoderConfig } from '@recur/graph';
import { activeBackend } from '@recur/tensor';

/** What one micro-batch of a training run holds: sequences × tokens. */
export interface TrainingShape {
  readonly batchSize: number;
  readonly seqLen: number;
}

// tfjs-backend-wasm's heap stops at 4 GiB − 64 KiB (emscripten's getHeapMax): every tensor lives there.
const WASM_HEAP_BYTES = 4_294_901_760;

/**
 * Rough peak bytes of training `config` on `shape` — an estimate to refuse hopeless runs early, not a
 * budget. Parameters: 4 bytes × (weight + gradient + two AdamW moments), all counted as trainable.
 * Activations kept for the backward pass, per token: per executed layer 12·d + 6·I floats plus
 * 8·heads·T for the attention scores (scores, mask, softmax and their gradients), plus 4·V for the
 * logits. Calibrated on stories260K (wasm, batch 8): peak RSS 0.55 GB at T = 128, 3.7 GB at T = 512.
 */
export function trainingBytes(
  config: DecoderConfig,
  shape: TrainingShape,
): { parameters: number; activations: number; total: number } {
  const layers = executionOrder(config).length;
  const { hiddenSize: d, intermediateSize: ffn, numHeads: heads, vocabSize: vocab } = config;
  const perToken = layers * (12 * d + 6 * ffn + 8 * heads * shape.seqLen) + 4 * vocab;
  const parameters = parameterCount(config) * 4 * 4;
  const activations = 4 * shape.batchSize * shape.seqLen * perToken;
  return { parameters, activations, total: parameters + activations };
}

/** Bytes training may use: the machine's memory, or the wasm heap (Node's default backend) when tensors live there. */
export function trainingMemoryLimit(): { bytes: number; where: string } {
  const machine = totalmem();
  const wasm = backendName() !== 'cpu' && WASM_HEAP_BYTES < machine;
  return wasm
    ? { bytes: WASM_HEAP_BYTES, where: "the wasm backend's heap" }
    : { bytes: machine, where: 'this machine' };
}

/**
 * Refuses, before anything is allocated, a run whose sequences are longer than the model's context
 * or whose estimated memory (trainingBytes) is more than training may use. `source` names the model.
 */
export function checkTrainingFits(
  config: DecoderConfig,
  shape: TrainingShape,
  source: string,
  limit = trainingMemoryLimit(),
): void {
  if (shape.seqLen > config.maxPositionEmbeddings) {
    throw new RangeError(
      `${source}: training sequences of ${shape.seqLen} tokens are longer than the model's context of ${config.maxPositionEmbeddings} (max_position_embeddings)`,
    );
  }
  const need = trainingBytes(config, shape);
  if (need.total > limit.bytes) {
    throw new RangeError(
      `${source}: training needs about ${formatBytes(need.total)} (${formatBytes(need.parameters)} for weights, gradients and AdamW moments, ` +
        `${formatBytes(need.activations)} of activations for ${shape.batchSize} × ${shape.seqLen} tokens) but ${limit.where} has ${formatBytes(limit.bytes)}`,
    );
  }
}

/** "3.7 GB" (decimal units, as `free -h` and the estimate's precision deserve). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value < 10 && unit > 0 ? 1 : 0)} ${units[unit]}`;
}

function backendName(): string | undefined {
  try {
    return activeBackend();
  } catch {
    return undefined; // no backend yet: training will start Node's default, wasm
  }
}
