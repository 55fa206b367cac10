import type { ServingEngine } from '@recur/engine';
import { TokenText, type OnDelta } from './tokenText.js';

/** The tokenizer calls the server needs (LoadedModel.tokenizer fits). */
export interface ServeTokenizer {
  encode(text: string, options?: { addBos?: boolean }): number[];
  decode(ids: readonly number[]): string;
  readonly vocabSize: number;
  /** The vocabulary entry of one id, as the tokenizer file spells it (`▁the`, `<0x0A>`). */
  tokenToPiece(id: number): string | undefined;
}

export interface GenerationInput {
  readonly promptIds: readonly number[];
  readonly maxTokens: number;
  readonly temperature: number;
  readonly topP: number;
  readonly topK: number;
  readonly seed: number;
  readonly stop: readonly string[];
  /** Keep generating past the end-of-sequence token. */
  readonly ignoreEos?: boolean;
  /** The engine's adapter id the request's "model" named (0: the base alone). */
  readonly adapter?: number;
  /** The domain whose ends run the request (absent: the model's active one). */
  readonly domain?: string;
}

export type FinishReason = 'stop' | 'length' | 'cancelled';

export interface GenerationOutcome {
  readonly text: string;
  readonly completionTokens: number;
  /** depths[i]: loops run for generated token i. */
  readonly depths: readonly number[];
  readonly finishReason: FinishReason;
  readonly firstTokenMs: number;
  readonly totalMs: number;
}

export type { OnDelta };

/**
 * Runs one request on the engine as text (TokenText): a stop string ends it and cancels the engine
 * request, and so does `signal` (the client went away).
 */
export async function runGeneration(
  engine: ServingEngine,
  tokenizer: ServeTokenizer,
  input: GenerationInput,
  signal: AbortSignal,
  onDelta?: OnDelta,
): Promise<GenerationOutcome> {
  const cancel = new AbortController();
  // The engine is mid-step while it calls onToken: cancel once that step has returned.
  const cancelSoon = (): void => queueMicrotask(() => cancel.abort());
  const forward = (): void => cancel.abort();
  signal.addEventListener('abort', forward, { once: true });
  const text = new TokenText(tokenizer, input.promptIds, input.stop, onDelta);
  let failure: unknown;
  const onToken = (id: number, depth: number): void => {
    if (failure !== undefined || text.stopped) return;
    try {
      if (text.push(id, depth)) cancelSoon();
    } catch (error) {
      failure = error; // never throw into the engine's step: that would fail every request in the batch
      cancelSoon();
    }
  };
  try {
    const sampling = { temperature: input.temperature, topP: input.topP, topK: input.topK, seed: input.seed };
    const request = {
      promptIds: input.promptIds,
      maxNewTokens: input.maxTokens,
      sampling,
      ...(input.ignoreEos && { stopAtEos: false }),
      ...(input.adapter && { adapter: input.adapter }),
      ...(input.domain !== undefined && { domain: input.domain }),
    };
    const result = await engine.submit(request, { onToken, signal: cancel.signal });
    if (failure !== undefined) throw failure;
    text.finish();
    const finishReason = text.stopped ? 'stop' : signal.aborted ? 'cancelled' : result.finishReason;
    return {
      text: text.text,
      completionTokens: text.ids.length,
      depths: text.depths,
      finishReason,
      firstTokenMs: result.firstTokenMs,
      totalMs: result.totalMs,
    };
  } finally {
    signal.removeEventListener('abort', forward);
  }
}
