/** Typed views of `recur serve` replies for the tests. */

export interface CompletionView {
  readonly text: string;
  readonly finishReason: string;
  readonly depths: readonly number[];
  readonly usage: { readonly prompt_tokens: number; readonly completion_tokens: number; readonly total_tokens: number };
}

interface Choice {
  readonly text?: string;
  readonly message?: { readonly content: string };
  readonly delta?: { readonly role?: string; readonly content?: string };
  readonly finish_reason: string | null;
}

interface Body {
  readonly object: string;
  readonly choices: readonly Choice[];
  readonly usage?: CompletionView['usage'];
  readonly recur?: { readonly depths: readonly number[] };
}

/** A non-streaming completion or chat completion. */
export function parseCompletion(text: string): CompletionView {
  const body = JSON.parse(text) as Body;
  const choice = body.choices[0]!;
  return {
    text: choice.text ?? choice.message?.content ?? '',
    finishReason: choice.finish_reason ?? '',
    depths: body.recur?.depths ?? [],
    usage: body.usage!,
  };
}

/** One SSE chunk. */
export function parseChunk(data: string): Body & { readonly piece: string } {
  const body = JSON.parse(data) as Body;
  const choice = body.choices[0];
  return { ...body, piece: choice?.text ?? choice?.delta?.content ?? '' };
}

/** The whole text of a stream (its `data:` payloads, `[DONE]` last). */
export function streamedText(data: readonly string[]): string {
  if (data.at(-1) !== '[DONE]') throw new Error(`stream did not end with [DONE]: ${data.at(-1)}`);
  return data
    .slice(0, -1)
    .map((d) => parseChunk(d).piece)
    .join('');
}

/** The error message of a 4xx/5xx body. */
export function parseError(text: string): string {
  return (JSON.parse(text) as { error: { message: string } }).error.message;
}
