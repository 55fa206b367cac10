import { randomInt } from 'node:crypto';
import { checkSampling, SamplingError, type SamplingField } from '@recur/engine';
import { formatChat, parseMessages } from './chatTemplate.js';
import { badRequest } from './httpError.js';
import type { ServeLimits } from './limits.js';

export type Endpoint = 'completion' | 'chat';

/** A validated OpenAI request, as the generation needs it. */
export interface ParsedRequest {
  readonly endpoint: Endpoint;
  /** Text to tokenize (BOS added), or exact prompt ids (completions' token-array prompt; BOS not added). */
  readonly prompt: { readonly text: string } | { readonly ids: readonly number[] };
  /** Undefined: the server's default. */
  readonly maxTokens: number | undefined;
  readonly temperature: number;
  readonly topP: number;
  readonly topK: number;
  readonly seed: number;
  readonly stop: readonly string[];
  readonly stream: boolean;
  /** Non-standard (as in vLLM): keep generating past the end-of-sequence token. */
  readonly ignoreEos: boolean;
  readonly model: string | undefined;
  /** Non-standard: the domain whose ends run the request (models with per-domain ends). */
  readonly domain: string | undefined;
}

type Body = Readonly<Record<string, unknown>>;

/** Validates an already-parsed JSON body; throws HttpError 400 naming the first bad field. */
export function parseRequest(endpoint: Endpoint, json: unknown, limits: ServeLimits): ParsedRequest {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw badRequest(null, 'the request body must be a JSON object');
  const body = json as Body;
  rejectUnsupported(body);
  const n = optionalNumber(body, 'n', { integer: true, min: 1 });
  if (n !== undefined && n !== 1) throw badRequest('n', `"n" must be 1 (one choice per request), got ${n}`);
  const maxTokens = optionalNumber(
    body,
    endpoint === 'chat' && body.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens',
    { integer: true, min: 1 },
  );
  if (maxTokens !== undefined && maxTokens > limits.maxTokens)
    throw badRequest('max_tokens', `"max_tokens" ${maxTokens} is over this server's limit of ${limits.maxTokens}`);
  const model = body.model;
  if (model !== undefined && typeof model !== 'string') throw badRequest('model', '"model" must be a string');
  const domain = body.domain;
  if (domain !== undefined && typeof domain !== 'string') throw badRequest('domain', '"domain" must be a string');
  return {
    endpoint,
    prompt: endpoint === 'chat' ? { text: formatChat(parseMessages(body.messages)) } : parsePrompt(body.prompt),
    maxTokens,
    temperature: optionalSampling(body, 'temperature', 'temperature') ?? 1,
    topP: optionalSampling(body, 'top_p', 'topP') ?? 1,
    topK: optionalSampling(body, 'top_k', 'topK') ?? 0,
    seed: optionalSampling(body, 'seed', 'seed') ?? randomInt(2 ** 31),
    stop: parseStop(body.stop),
    stream: optionalBoolean(body, 'stream') ?? false,
    ignoreEos: optionalBoolean(body, 'ignore_eos') ?? false,
    model,
    domain,
  };
}

function parsePrompt(raw: unknown): ParsedRequest['prompt'] {
  if (raw === undefined) return { text: '' };
  if (typeof raw === 'string') return { text: raw };
  if (Array.isArray(raw) && raw.length === 1 && typeof raw[0] === 'string') return { text: raw[0] };
  if (Array.isArray(raw) && raw.length > 0 && raw.every((id) => Number.isInteger(id) && (id as number) >= 0))
    return { ids: raw as number[] };
  if (Array.isArray(raw) && raw.length > 1 && raw.every((p) => typeof p === 'string'))
    throw badRequest('prompt', 'one prompt per request: "prompt" must be a string, not a batch of strings');
  throw badRequest('prompt', '"prompt" must be a string, a one-string array or a non-empty array of token ids');
}

function parseStop(raw: unknown): string[] {
  if (raw === undefined || raw === null) return [];
  const list = typeof raw === 'string' ? [raw] : raw;
  if (!Array.isArray(list) || list.length > 4 || !list.every((s) => typeof s === 'string' && s.length > 0)) {
    throw badRequest('stop', '"stop" must be a non-empty string or an array of at most 4 non-empty strings');
  }
  return list as string[];
}

/** Options the server does not implement: refused rather than silently ignored. */
function rejectUnsupported(body: Body): void {
  if (body.logprobs !== undefined && body.logprobs !== null && body.logprobs !== false)
    throw badRequest('logprobs', '"logprobs" is not supported');
  if (body.echo === true) throw badRequest('echo', '"echo" is not supported');
  if (body.suffix !== undefined && body.suffix !== null) throw badRequest('suffix', '"suffix" is not supported');
  if (typeof body.best_of === 'number' && body.best_of !== 1) throw badRequest('best_of', '"best_of" must be 1');
  if (body.tools !== undefined && body.tools !== null) throw badRequest('tools', '"tools" is not supported');
}

interface NumberRule {
  readonly integer?: boolean;
  readonly min?: number;
  readonly max?: number;
  /** The minimum is excluded. */
  readonly above?: boolean;
}

function optionalNumber(body: Body, name: string, rule: NumberRule): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  const { integer = false, min = -Infinity, max = Infinity, above = false } = rule;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!integer || Number.isInteger(value)) &&
    (above ? value > min : value >= min) &&
    value <= max;
  if (!ok) {
    const range = [Number.isFinite(min) ? `${above ? '>' : '≥'} ${min}` : '', Number.isFinite(max) ? `≤ ${max}` : '']
      .filter(Boolean)
      .join(' and ');
    throw badRequest(
      name,
      `"${name}" must be ${integer ? 'an integer' : 'a number'}${range ? ` ${range}` : ''}, got ${JSON.stringify(value)}`,
    );
  }
  return value as number;
}

/** A sampling field held to the engine's rule, the one `recur generate` holds its flags to. */
function optionalSampling(body: Body, name: string, field: SamplingField): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  try {
    return checkSampling(field, value, `"${name}"`);
  } catch (error) {
    throw error instanceof SamplingError ? badRequest(name, error.message) : error;
  }
}

function optionalBoolean(body: Body, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean')
    throw badRequest(name, `"${name}" must be true or false, got ${JSON.stringify(value)}`);
  return value;
}
