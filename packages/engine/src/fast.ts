import { FastDecoder, type Decoder, type FastAdapterSource, type FastKvCache } from '@recur/graph';
import { loopNormKey, loraKey, type DepthwiseLora } from '@recur/lora';
import { activeBackend } from '@recur/tensor';
import type { LoadedModel } from './model.js';

/** The fast decoder of a model, or why it cannot have one (then the tfjs Decoder runs). */
export type FastChoice =
  | { readonly fast: FastDecoder; readonly reason?: undefined }
  | { readonly fast?: undefined; readonly reason: string };

const built = new WeakMap<Decoder, Promise<FastChoice>>();
const ready = new WeakMap<Decoder, FastDecoder>();

/**
 * The model's FastDecoder (built once per decoder and kept with it, its depth-wise LoRA and per-loop
 * norms included), or the reason it has none: it needs the wasm backend in Node; row widths must be
 * multiples of 4; a model with DVPT modules has none. `disposeModel` frees it.
 */
export function fastDecoderFor(
  model: Pick<LoadedModel, 'decoder' | 'lora' | 'quantized' | 'dvpt' | 'composition'>,
): Promise<FastChoice> {
  const known = built.get(model.decoder);
  if (known) return known;
  const choice = (async (): Promise<FastChoice> => {
    if (model.dvpt) return { reason: 'DVPT modules run on the tfjs decoder only' };
    if (model.composition?.fusion)
      return { reason: 'a gated composition mixes adapters per token from the hidden state: tfjs decoder only' };
    const unsupported = FastDecoder.unsupported(model.decoder.config);
    if (unsupported) return { reason: unsupported };
    if (activeBackend() !== 'wasm') return { reason: `the fast path runs on wasm, the backend is ${activeBackend()}` };
    const fast = await FastDecoder.create(model.decoder.config, model.decoder.weights, {
      ...(model.lora ? { adapter: fastAdapterSource(model.lora) } : {}),
      ...(model.quantized?.size ? { quantized: model.quantized } : {}),
    });
    // the fast decoder holds its own packed copy in the heap
    model.quantized?.clear();
    if (fast) ready.set(model.decoder, fast);
    return fast ? { fast } : { reason: 'no fused-kernel runtime on this wasm backend' };
  })();
  built.set(model.decoder, choice);
  return choice;
}

/** A DepthwiseLora as the fast path reads it: factors and per-loop norms by (stored layer, loop). */
export function fastAdapterSource(lora: DepthwiseLora): FastAdapterSource {
  return {
    scale: lora.scale,
    factors: (unique, module, loop) => {
      const a = lora.tensors.get(loraKey(unique, module, loop, 'A'));
      const b = lora.tensors.get(loraKey(unique, module, loop, 'B'));
      return a && b ? { a, b } : undefined;
    },
    norm: (unique, name, loop) => lora.tensors.get(loopNormKey(unique, name, loop)),
  };
}

/** Frees the model's FastDecoder scratch, if one was built (disposeModel calls it). */
export function disposeFast(model: Pick<LoadedModel, 'decoder'>): void {
  ready.get(model.decoder)?.dispose();
  ready.delete(model.decoder);
  built.delete(model.decoder);
}

/** One sequence's next-token logits through either path: `next(input)` appends input, returns the last row's logits. */
export interface TokenRunner {
  readonly path: 'fast' | 'tfjs';
  next(input: readonly number[]): Promise<Float32Array>;
  dispose(): void;
}

/**
 * `fast`: undefined = the fused path whenever the model allows it, else tfjs quietly (the default);
 * true = the same, with a warning on falling back (it was asked for); false = always tfjs.
 */
export async function tokenRunner(
  model: LoadedModel,
  fast: boolean | undefined,
  capacity: number,
): Promise<TokenRunner> {
  const choice = fast !== false ? await fastDecoderFor(model) : undefined;
  if (choice?.fast) {
    const decoder = choice.fast;
    const cache: FastKvCache = decoder.newCache(capacity);
    return {
      path: 'fast',
      next: async (input) => decoder.forward(input, { cache, lastOnly: true }),
      dispose: () => cache.dispose(),
    };
  }
  if (fast === true && choice?.reason)
    console.warn(`recur: fast path unavailable (${choice.reason}); using the tfjs decoder`);
  const cache = model.decoder.newCache();
  return {
    path: 'tfjs',
    next: async (input) => {
      const logits = model.decoder.forward(input, { cache, lastOnly: true }); // [1, V]
      try {
        return (await logits.data()) as Float32Array;
      } finally {
        logits.dispose();
      }
    },
    dispose: () => cache.dispose(),
  };
}
