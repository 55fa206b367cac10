import { createHash } from 'node:crypto';
import { executionOrder } from '@recur/graph';
import type { LoadedModel } from '../model.js';

/**
 * What an adapter was trained on: sha256 over the base's run order and every tensor it computes with
 * (decoder weights, and a converted model's own depth-wise LoRA), names and shapes included, in name
 * order. Written to adapter_config.json as `recur_base_fingerprint`; an adapter whose fingerprint is
 * not the model's is refused, since its deltas only mean something on the weights they were fitted to.
 */
export function baseFingerprint(model: Pick<LoadedModel, 'decoder' | 'lora'>): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(executionOrder(model.decoder.config)));
  const tensors = [...model.decoder.weights, ...(model.lora?.tensors ?? [])].sort(([a], [b]) => (a < b ? -1 : 1));
  for (const [name, tensor] of tensors) {
    hash.update(`${name}[${tensor.shape.join(',')}]`);
    const data = tensor.dataSync() as Float32Array;
    hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return `sha256:${hash.digest('hex')}`;
}
