import { argmax, type LoadedModel } from '@recur/engine';
import { executionSteps, type AttentionCache, type KvCache, type LayerCall } from '@recur/graph';
import { tf } from '@recur/tensor';

export interface ThroughputResult {
  readonly sequences: number;
  readonly steps: number;
  /** Tokens per second decoding the sequences one after another (one forward per token). */
  readonly oneAtATime: number;
  /** Tokens per second decoding all sequences in one forward per step ([B, d] rows through every layer call). */
  readonly batched: number;
  /** Whether both ways produced the same greedy tokens. */
  readonly sameTokens: boolean;
}

/**
 * Greedy decode of `sequences` short prompts for `steps` steps, twice: one token at a time, and
 * batched — every layer call (projections, norms, MLP) runs on all B rows at once while each row
 * attends over its own KV cache. All rows run the full depth: this measures the batching that
 * continuous depth-wise batching builds on, not depth-wise scheduling itself.
 */
export async function measureThroughput(
  model: LoadedModel,
  sequences: number,
  steps: number,
): Promise<ThroughputResult> {
  const prompts = Array.from({ length: sequences }, (_, b) => [1, 2 + ((b * 37) % (model.config.vocabSize - 2))]);
  const one = await decodeOneAtATime(model, prompts, steps);
  const batched = await decodeBatched(model, prompts, steps);
  const tokens = sequences * steps;
  return {
    sequences,
    steps,
    oneAtATime: tokens / (one.ms / 1000),
    batched: tokens / (batched.ms / 1000),
    sameTokens: JSON.stringify(one.value) === JSON.stringify(batched.value),
  };
}

/** Prefills every prompt into its own cache; returns caches and each row's first greedy token. */
async function prefill(
  model: LoadedModel,
  prompts: readonly number[][],
): Promise<{ caches: KvCache[]; next: number[] }> {
  const caches = prompts.map(() => model.decoder.newCache());
  const next: number[] = [];
  for (const [b, ids] of prompts.entries()) {
    const logits = model.decoder.forward(ids, { cache: caches[b]!, lastOnly: true }); // [1, V]
    next.push(argmax((await logits.data()) as Float32Array));
    logits.dispose();
  }
  return { caches, next };
}

async function decodeOneAtATime(
  model: LoadedModel,
  prompts: readonly number[][],
  steps: number,
): Promise<{ value: number[][]; ms: number }> {
  const { caches, next } = await prefill(model, prompts);
  const out = prompts.map(() => [] as number[]);
  const start = performance.now();
  for (let s = 0; s < steps; s++) {
    for (const [b, cache] of caches.entries()) {
      const logits = model.decoder.forward([next[b]!], { cache, lastOnly: true }); // [1, V]
      out[b]!.push(next[b]!);
      next[b] = argmax((await logits.data()) as Float32Array);
      logits.dispose();
    }
  }
  const ms = performance.now() - start;
  caches.forEach((c) => c.dispose());
  return { value: out, ms };
}

async function decodeBatched(
  model: LoadedModel,
  prompts: readonly number[][],
  steps: number,
): Promise<{ value: number[][]; ms: number }> {
  const { decoder } = model;
  const { caches, next } = await prefill(model, prompts);
  const calls = executionSteps(decoder.config);
  const rows = new RowsCache(caches);
  const out = prompts.map(() => [] as number[]);
  const vocab = decoder.config.vocabSize;
  const start = performance.now();
  for (let s = 0; s < steps; s++) {
    const positions = Int32Array.from(caches, (c) => c.length);
    const logits = tf.tidy(() => {
      let h = decoder.embed(next); // [B, d]
      for (const call of calls) h = decoder.runLayers(h, [call], { positions, cache: rows });
      return decoder.head(h); // [B, V]
    });
    const values = (await logits.data()) as Float32Array;
    logits.dispose();
    caches.forEach((c) => c.advance(1));
    next.forEach((id, b) => {
      out[b]!.push(id);
      next[b] = argmax(values.subarray(b * vocab, (b + 1) * vocab));
    });
  }
  const ms = performance.now() - start;
  caches.forEach((c) => c.dispose());
  return { value: out, ms };
}

/** Row b of every batched call attends through sequence b's own cache. */
class RowsCache implements AttentionCache {
  constructor(private readonly caches: readonly KvCache[]) {}

  attend(call: LayerCall, q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D): tf.Tensor2D {
    const row = (t: tf.Tensor3D, b: number): tf.Tensor3D => tf.slice(t, [b, 0, 0], [1, -1, -1]); // [1, heads, hd]
    // B × [1, nHeads·hd]
    const outs = this.caches.map((cache, b) => cache.attend(call, row(q, b), row(k, b), row(v, b)));
    return tf.concat(outs, 0); // [B, nHeads·hd]
  }
}
