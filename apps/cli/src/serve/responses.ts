import { randomBytes } from 'node:crypto';
import type { GenerationOutcome } from './generation.js';
import type { Endpoint } from './openai.js';

/** What every response and chunk of one request shares. */
export interface ResponseHead {
  readonly endpoint: Endpoint;
  readonly id: string;
  readonly created: number;
  readonly model: string;
  readonly promptTokens: number;
}

export function responseHead(endpoint: Endpoint, model: string, promptTokens: number): ResponseHead {
  const id = `${endpoint === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomBytes(12).toString('hex')}`;
  return { endpoint, id, created: Math.floor(Date.now() / 1000), model, promptTokens };
}

function usage(head: ResponseHead, outcome: GenerationOutcome): Record<string, number> {
  return {
    prompt_tokens: head.promptTokens,
    completion_tokens: outcome.completionTokens,
    total_tokens: head.promptTokens + outcome.completionTokens,
  };
}

/** The non-standard `recur` field: loops run per generated token, and timings. */
function recurField(outcome: GenerationOutcome): Record<string, unknown> {
  return { depths: outcome.depths, first_token_ms: round(outcome.firstTokenMs), total_ms: round(outcome.totalMs) };
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

/** The whole answer of a non-streaming request. */
export function completionBody(head: ResponseHead, outcome: GenerationOutcome): Record<string, unknown> {
  const choice =
    head.endpoint === 'chat'
      ? { index: 0, message: { role: 'assistant', content: outcome.text }, finish_reason: outcome.finishReason }
      : { index: 0, text: outcome.text, logprobs: null, finish_reason: outcome.finishReason };
  return { ...common(head), choices: [choice], usage: usage(head, outcome), recur: recurField(outcome) };
}

/** One streamed piece of text (chat: `first` also carries the assistant role). */
export function deltaChunk(
  head: ResponseHead,
  text: string,
  depths: readonly number[],
  first: boolean,
): Record<string, unknown> {
  const choice =
    head.endpoint === 'chat'
      ? { index: 0, delta: first ? { role: 'assistant', content: text } : { content: text }, finish_reason: null }
      : { index: 0, text, logprobs: null, finish_reason: null };
  return { ...common(head, true), choices: [choice], recur: { depths } };
}

/** The last chunk: finish reason, usage and every token's depth. */
export function finalChunk(head: ResponseHead, outcome: GenerationOutcome): Record<string, unknown> {
  const choice =
    head.endpoint === 'chat'
      ? { index: 0, delta: {}, finish_reason: outcome.finishReason }
      : { index: 0, text: '', logprobs: null, finish_reason: outcome.finishReason };
  return { ...common(head, true), choices: [choice], usage: usage(head, outcome), recur: recurField(outcome) };
}

function common(head: ResponseHead, chunk = false): Record<string, unknown> {
  const object = head.endpoint === 'chat' ? (chunk ? 'chat.completion.chunk' : 'chat.completion') : 'text_completion';
  return { id: head.id, object, created: head.created, model: head.model };
}
