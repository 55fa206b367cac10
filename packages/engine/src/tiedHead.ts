import type { Checkpoint, ModelConfig } from '@recur/checkpoint';

export const embedKey = 'model.embed_tokens.weight';
export const headKey = 'lm_head.weight';

/** Bit-for-bit equality (NaN payloads and ±0 told apart), as a tied head must be. */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/**
 * The checkpoint's config, tied when its LM head is a bit-identical copy of the embedding (some
 * converters, e.g. llama2.c → GGUF, store it so) — what `buildModel` decides while loading, here
 * decided by reading just those two tensors.
 */
export async function configWithTiedHead(checkpoint: Checkpoint): Promise<ModelConfig> {
  const { config } = checkpoint;
  if (config.tieWordEmbeddings || !checkpoint.has(headKey)) return config;
  const head = await checkpoint.read(headKey);
  const tied = sameBits(head, await checkpoint.read(embedKey));
  return tied ? { ...config, tieWordEmbeddings: true } : config;
}
