import { elementCount, type Checkpoint } from '@recur/checkpoint';
import type { ActiveBackend } from '../backend.js';

/** A model that cannot run on the active backend; the message says which limit and by how much. */
export class ModelTooLargeError extends Error {
  override readonly name = 'ModelTooLargeError';
}

const FLOAT32_BYTES = 4;

/**
 * Refuses a model before any weight is read when a tensor (held as float32) exceeds the backend's
 * largest buffer — WebGPU's maxStorageBufferBindingSize / maxBufferSize — or the weights in total
 * exceed what the backend can hold.
 */
export function checkFits(checkpoint: Checkpoint, backend: ActiveBackend): void {
  let total = 0;
  for (const info of checkpoint.tensors) {
    const bytes = elementCount(info.shape) * FLOAT32_BYTES;
    total += bytes;
    if (bytes > backend.maxBufferBytes) {
      throw new ModelTooLargeError(
        `${checkpoint.path}: tensor ${info.name} [${info.shape.join(', ')}] needs ${formatBytes(bytes)} as float32, ` +
          `more than the ${backend.name} backend's largest buffer (${formatBytes(backend.maxBufferBytes)}); pick a smaller model`,
      );
    }
  }
  if (total > backend.maxTotalBytes) {
    throw new ModelTooLargeError(
      `${checkpoint.path}: the weights need ${formatBytes(total)} as float32, more than the ${backend.name} backend can hold (${formatBytes(backend.maxTotalBytes)}); pick a smaller model`,
    );
  }
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'unlimited';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 2)} ${units[unit]}`;
}
