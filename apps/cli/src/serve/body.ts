import type { IncomingMessage } from 'node:http';
import { HttpError } from './httpError.js';

/** The client went away before its body arrived: there is nobody to answer. */
export class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
}

/** Bodies this far past the limit are not read to the end: the connection is dropped after the 413. */
const drainFactor = 8;

export interface BodyRules {
  readonly maxBytes: number;
  /** The whole body must arrive within this long (408 after). */
  readonly timeoutMs: number;
  /** Aborted when the server shuts down: a body still arriving then gets 408. */
  readonly closing: AbortSignal;
}

/**
 * Reads a JSON body of at most `maxBytes`: 413 when over (read to the end first, up to a bound, so
 * the client sees the answer rather than a reset), 400 when not UTF-8 JSON, 408 when too slow.
 */
export async function readJsonBody(req: IncomingMessage, rules: BodyRules): Promise<unknown> {
  const bytes = await readBody(req, rules);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new HttpError(400, 'the request body is not valid UTF-8');
  }
  if (text.trim() === '') throw new HttpError(400, 'the request body is empty; expected a JSON object');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(400, `the request body is not valid JSON: ${(error as Error).message}`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** 408 with the connection closed: the rest of the request is not wanted. */
export function requestTimeout(message: string): HttpError {
  return new HttpError(408, message, 'invalid_request_error', null, { connection: 'close' });
}

export const tooSlow = (timeoutMs: number): string =>
  `the client did not send its whole request within ${timeoutMs / 1000} s`;

function tooLarge(maxBytes: number, close: boolean): HttpError {
  return new HttpError(
    413,
    `the request body is over this server's limit of ${maxBytes} bytes`,
    'invalid_request_error',
    null,
    close ? { connection: 'close' } : {},
  );
}

function readBody(req: IncomingMessage, { maxBytes, timeoutMs, closing }: BodyRules): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes * drainFactor) return Promise.reject(tooLarge(maxBytes, true));
  if (closing.aborted) return Promise.reject(shuttingDown());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else if (size > maxBytes * drainFactor) finish(tooLarge(maxBytes, true));
    };
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      closing.removeEventListener('abort', onClosing);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      if (error) reject(error);
      else if (size > maxBytes) reject(tooLarge(maxBytes, false));
      else resolve(Buffer.concat(chunks));
    };
    const onEnd = (): void => finish();
    const onClose = (): void => finish(new ClientGoneError('client closed the connection while sending its body'));
    const onClosing = (): void => finish(shuttingDown());
    const timer = setTimeout(() => finish(requestTimeout(tooSlow(timeoutMs))), timeoutMs);
    closing.addEventListener('abort', onClosing, { once: true });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
  });
}

function shuttingDown(): HttpError {
  return requestTimeout('the server is shutting down and the request body had not all arrived');
}
