import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServingEngine } from '@recur/engine';
import { ClientGoneError, readJsonBody } from './body.js';
import type { DomainCounters } from './domainCounters.js';
import { runGeneration, type GenerationInput, type ServeTokenizer } from './generation.js';
import { badRequest, HttpError, sendJson } from './httpError.js';
import type { AdmissionGate, ServeLimits } from './limits.js';
import { parseRequest, type Endpoint, type ParsedRequest } from './openai.js';
import { encodePrompt, tokenizerFacts } from './promptTokens.js';
import { completionBody, deltaChunk, finalChunk, responseHead } from './responses.js';
import { RequestStop } from './requestStop.js';
import { SseWriter } from './sse.js';

export interface GenerateContext {
  readonly engine: ServingEngine;
  readonly tokenizer: ServeTokenizer;
  readonly modelName: string;
  /** Names of the engine's adapters: "model": adapters[k − 1] runs adapter k (see modelAdapter). */
  readonly adapters: readonly string[];
  /** Domains of a model with per-domain ends, picked by a request's "domain" (empty: none). */
  readonly domains: readonly string[];
  /** Per-domain requests and tokens for GET /metrics (counted only when `domains` is non-empty). */
  readonly domainCounters: DomainCounters;
  readonly limits: ServeLimits;
  readonly gate: AdmissionGate;
  readonly isDraining: () => boolean;
  /** Aborted when the server starts shutting down (bodies still arriving get 408). */
  readonly closing: AbortSignal;
  /** Aborted when the server cancels the requests still generating (each gets 503). */
  readonly cancelled: AbortSignal;
}

/** POST /v1/completions and /v1/chat/completions: validate, admit, generate, answer (JSON or SSE). */
export async function handleGenerate(
  ctx: GenerateContext,
  endpoint: Endpoint,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { limits } = ctx;
  const body = await readJsonBody(req, {
    maxBytes: limits.maxBodyBytes,
    timeoutMs: limits.receiveTimeoutMs,
    closing: ctx.closing,
  });
  const parsed = parseRequest(endpoint, body, limits);
  const input = await generationInput(ctx, parsed);
  if (ctx.isDraining()) throw draining();
  if (!ctx.gate.tryEnter())
    throw new HttpError(
      429,
      `the server is at its limit of ${limits.maxQueue} requests in flight; retry later`,
      'rate_limit_error',
      null,
      { 'retry-after': String(limits.retryAfterSeconds) },
    );
  const stop = new RequestStop(ctx, res);
  try {
    const head = responseHead(endpoint, parsed.model ?? ctx.modelName, input.promptIds.length);
    if (!parsed.stream) {
      const outcome = await submit(ctx, input, stop.signal);
      stop.check();
      sendJson(res, 200, completionBody(head, outcome));
      return;
    }
    const sse = new SseWriter(res);
    let first = true;
    const outcome = await submit(ctx, input, stop.signal, (text, depths) => {
      sse.send(deltaChunk(head, text, depths, first));
      first = false;
    })
      .then((done) => {
        stop.check();
        return done;
      })
      .catch((error: unknown) => {
        if (!sse.headersSent) throw error;
        if (error instanceof ClientGoneError) return undefined;
        const status = error instanceof HttpError ? error.status : 500;
        sse.send({ error: { message: (error as Error).message, type: 'server_error', code: status } });
        return undefined;
      });
    if (outcome) sse.send(finalChunk(head, outcome));
    sse.done();
  } finally {
    stop.release();
    ctx.gate.leave();
  }
}

async function submit(
  ctx: GenerateContext,
  input: GenerationInput,
  signal: AbortSignal,
  onDelta?: (text: string, depths: readonly number[]) => void,
): ReturnType<typeof runGeneration> {
  try {
    const outcome = await runGeneration(ctx.engine, ctx.tokenizer, input, signal, onDelta);
    if (ctx.domains.length > 0) ctx.domainCounters.record(input.domain, outcome.completionTokens);
    return outcome;
  } catch (error) {
    if (error instanceof RangeError) throw badRequest(null, error.message);
    if (error instanceof Error && /draining/.test(error.message)) throw draining();
    throw error;
  }
}

export function draining(): HttpError {
  return new HttpError(503, 'the server is shutting down and takes no new requests', 'server_error', null, {
    connection: 'close',
  });
}

/** Tokenizes the prompt and checks it and max_tokens against the limits and the context. */
async function generationInput(ctx: GenerateContext, parsed: ParsedRequest): Promise<GenerationInput> {
  const { limits } = ctx;
  const param = parsed.endpoint === 'chat' ? 'messages' : 'prompt';
  const promptIds = 'text' in parsed.prompt ? await promptText(ctx, parsed.prompt.text, param) : [...parsed.prompt.ids];
  if (promptIds.length > limits.maxPromptTokens)
    throw badRequest(
      param,
      `the prompt is ${promptIds.length} tokens, over this server's limit of ${limits.maxPromptTokens}`,
    );
  const room = limits.contextLength - promptIds.length;
  if (room < 1)
    throw badRequest(
      param,
      `the prompt is ${promptIds.length} tokens; the model's context is ${limits.contextLength}, leaving no room to generate`,
    );
  const maxTokens = parsed.maxTokens ?? Math.min(limits.defaultMaxTokens, room);
  if (maxTokens > room)
    throw badRequest(
      'max_tokens',
      `prompt (${promptIds.length} tokens) + max_tokens (${maxTokens}) is over the model's context of ${limits.contextLength}`,
    );
  return {
    promptIds,
    maxTokens,
    temperature: parsed.temperature,
    topP: parsed.topP,
    topK: parsed.topK,
    seed: parsed.seed,
    stop: parsed.stop,
    ignoreEos: parsed.ignoreEos,
    adapter: modelAdapter(ctx, parsed.model),
    ...(parsed.domain !== undefined && { domain: requestDomain(ctx, parsed.domain) }),
  };
}

/**
 * The adapter a request's "model" picks: the base model's own name (or none) picks none, an adapter's
 * name that adapter. With adapters served, any other name is a 404 (model_not_found); without, the
 * field is only echoed, as clients that send a fixed model name expect.
 */
export function modelAdapter(ctx: Pick<GenerateContext, 'modelName' | 'adapters'>, model: string | undefined): number {
  if (model === undefined || model === ctx.modelName) return 0;
  const index = ctx.adapters.indexOf(model);
  if (index >= 0) return index + 1;
  if (ctx.adapters.length === 0) return 0;
  throw new HttpError(
    404,
    `the model "${model}" does not exist: this server has ${[ctx.modelName, ...ctx.adapters].map((n) => `"${n}"`).join(', ')} (GET /v1/models)`,
    'invalid_request_error',
    'model',
    {},
    'model_not_found',
  );
}

/** A request's "domain", checked against the served model's (400 naming them, or saying it has none). */
export function requestDomain(ctx: Pick<GenerateContext, 'modelName' | 'domains'>, domain: string): string {
  if (ctx.domains.length === 0)
    throw badRequest(
      'domain',
      `"domain": "${domain}": the model "${ctx.modelName}" has no per-domain ends (convert with --ends per-domain:NAMES)`,
    );
  if (!ctx.domains.includes(domain))
    throw badRequest(
      'domain',
      `"domain": "${domain}" is not one of the model's domains: ${ctx.domains.map((n) => `"${n}"`).join(', ')}`,
    );
  return domain;
}

/**
 * Refuses text longer in bytes than the longest prompt allowed could span (so a huge prompt costs no
 * tokenizing), then tokenizes it without holding the event loop.
 */
function promptText(ctx: GenerateContext, text: string, param: string): Promise<number[]> {
  const tokens = Math.min(ctx.limits.maxPromptTokens, ctx.limits.contextLength - 1);
  const maxBytes = tokens * tokenizerFacts(ctx.tokenizer).maxTokenBytes;
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes)
    throw badRequest(
      param,
      `the prompt is ${bytes} bytes; a prompt of at most ${tokens} tokens is at most ${maxBytes} bytes for this tokenizer`,
    );
  return encodePrompt(ctx.tokenizer, text, { addBos: true });
}
