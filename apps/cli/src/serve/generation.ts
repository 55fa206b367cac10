import { TextStream, type ServeFinishReason, type ServingEngine } from '@recur/engine';
import { StopMatcher } from './stopMatcher.js';

/** The tokenizer calls the server needs (LoadedModel.tokenizer fits). */
export interface ServeTokenizer {
  encode(text: string, options?: { addBos?: boolean }): number[];
  decode(ids: readonly number[]): string;
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

/** Text as it becomes final, with the depths of the tokens that produced it since the last call. */
export type OnDelta = (text: string, depths: readonly number[]) => void;

/**
 * Runs one request on the engine and turns its token ids into text: deltas decoded in context
 * (TextStream), cut at the first stop string — which also cancels the engine request — and
 * cancelled when `signal` aborts (the client went away).
 */
export async function runGeneration(engine: ServingEngine, tokenizer: ServeTokenizer, input: GenerationInput, signal: AbortSignal, onDelta?: OnDelta): Promise<GenerationOutcome> {
  const cancel = new AbortController();
  const forward = (): void => cancel.abort();
  signal.addEventListener('abort', forward, { once: true });
  const ids: number[] = [];
  const depths: number[] = [];
  const all = [...input.promptIds];
  const stream = new TextStream((list) => tokenizer.decode(list), tokenizer.decode(input.promptIds));
  const matcher = new StopMatcher(input.stop);
  let text = '';
  let unsent = 0;
  const deliver = (delta: string): void => {
    const { text: safe, stopped } = matcher.push(delta);
    if (safe.length > 0 || stopped) {
      text += safe;
      if (safe.length > 0) onDelta?.(safe, depths.slice(depths.length - unsent));
      unsent = 0;
    }
    // The engine is mid-step while it calls onToken: cancel once the step has returned.
    if (stopped) queueMicrotask(() => cancel.abort());
  };
  const onToken = (id: number, depth: number): void => {
    if (matcher.stopped) return;
    ids.push(id);
    depths.push(depth);
    all.push(id);
    unsent++;
    const delta = stream.push(all);
    if (delta.length > 0) deliver(delta);
  };
  try {
    const sampling = { temperature: input.temperature, topP: input.topP, topK: input.topK, seed: input.seed };
    const result = await engine.submit({ promptIds: input.promptIds, maxNewTokens: input.maxTokens, sampling, ...(input.ignoreEos && { stopAtEos: false }) }, { onToken, signal: cancel.signal });
    if (!matcher.stopped) deliver(stream.push(all, true));
    const rest = matcher.flush();
    if (rest.length > 0) {
      text += rest;
      onDelta?.(rest, depths.slice(depths.length - unsent));
    }
    return { text, completionTokens: ids.length, depths, finishReason: finishReason(matcher.stopped, signal.aborted, result.finishReason), firstTokenMs: result.firstTokenMs, totalMs: result.totalMs };
  } finally {
    signal.removeEventListener('abort', forward);
  }
}

function finishReason(stopString: boolean, clientGone: boolean, engine: ServeFinishReason): FinishReason {
  if (stopString) return 'stop';
  if (clientGone) return 'cancelled';
  return engine;
}
