import type { LoadedModel } from '@recur/engine';
import { EntropyRecorder, type LayerCall, type StepEntropy } from '@recur/graph';
import { tf } from '@recur/tensor';

/** What one full forward over a sequence shows about its loops. */
export interface LoopProbe {
  /** readouts[r]: logits [T·V] row-major had every token stopped after loop r (epilogue + final norm + LM head). */
  readonly readouts: Float32Array[];
  /** Attention entropy of every executed layer step (epilogue runs excluded). */
  readonly entropies: StepEntropy[];
  readonly vocabSize: number;
}

/**
 * Runs `ids` from position 0 through the model's prologue, each loop of its shared block and —
 * for every loop's state — the epilogue and LM head (Relaxed Recursive Transformers' early-exit
 * readout, Bae et al. 2024 §3.4). Throws the graph's ConfigError for SEQUENCE-tied models, whose
 * loops are not contiguous. A plain model is one loop.
 */
export async function probeLoops(model: LoadedModel, ids: readonly number[]): Promise<LoopProbe> {
  const { decoder } = model;
  const structure = decoder.loops;
  const positions = Int32Array.from(ids, (_, i) => i);
  const cache = decoder.newCache();
  const recorder = new EntropyRecorder(cache);
  const kept: tf.Tensor2D[] = [];
  try {
    tf.tidy(() => {
      const run = (
        h: tf.Tensor2D,
        calls: readonly LayerCall[],
        through: EntropyRecorder | ReturnType<typeof decoder.newCache>,
      ) => (calls.length === 0 ? h : decoder.runLayers(h, calls, { positions, cache: through }));
      let h = run(decoder.embed(ids), structure.prologue, recorder); // [T, d]
      for (const loop of structure.loops) {
        h = run(h, loop, recorder);
        const readoutCache = decoder.newCache(); // the epilogue's keys of this readout only
        kept.push(tf.keep(decoder.head(run(h, structure.epilogue, readoutCache)))); // [T, V]
        readoutCache.dispose();
      }
    });
    const readouts = await Promise.all(kept.map(async (t) => (await t.data()) as Float32Array));
    return { readouts, entropies: await recorder.read(), vocabSize: decoder.config.vocabSize };
  } finally {
    tf.dispose(kept);
    recorder.dispose();
    cache.dispose();
  }
}
