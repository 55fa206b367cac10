import type { IncomingMessage } from 'node:http';
import { HttpError } from './httpError.js';

/** The client went away before its body arrived: there is nobody to answer. */
export class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
}

/** Bodies this far past the limit are not read to the end: the connection is dropped after the 413. */
const drainFactor = 8;

/**
 * Reads a JSON body of at most `maxBytes`: 413 when over (read to the end first, up to a bound, so
 * the client sees the answer rather than a reset), 400 when not JSON.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const text = await readBody(req, maxBytes);
  if (text.trim() === '') throw new HttpError(400, 'the request body is empty; expected a JSON object');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(400, `the request body is not valid JSON: ${(error as Error).message}`);
  }
}

function tooLarge(maxBytes: number, close: boolean): HttpError {
  return new HttpError(413, `the request body is over this server's limit of ${maxBytes} bytes`, 'invalid_request_error', null, close ? { connection: 'close' } : {});
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes * drainFactor) return Promise.reject(tooLarge(maxBytes, true));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else if (size > maxBytes * drainFactor) finish(tooLarge(maxBytes, true));
    };
    const finish = (error?: Error): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      if (error) reject(error);
      else if (size > maxBytes) reject(tooLarge(maxBytes, false));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onEnd = (): void => finish();
    const onClose = (): void => finish(new ClientGoneError('client closed the connection while sending its body'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
  });
}
