import type { ServerResponse } from 'node:http';

/** An HTTP failure the client caused or must retry: status, OpenAI error type and a message naming what is wrong. */
export class HttpError extends Error {
  override readonly name = 'HttpError';

  constructor(
    readonly status: number,
    message: string,
    readonly type = status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly param: string | null = null,
    readonly headers: Readonly<Record<string, string>> = {},
    /** The body's error.code (default: the status, as this server has always sent). */
    readonly code: string | number = status,
  ) {
    super(message);
  }
}

/** A 400 naming the offending field. */
export function badRequest(param: string | null, message: string): HttpError {
  return new HttpError(400, message, 'invalid_request_error', param);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** The OpenAI error body: {"error": {"message", "type", "param", "code"}}. */
export function sendError(res: ServerResponse, error: HttpError): void {
  const body = { error: { message: error.message, type: error.type, param: error.param, code: error.code } };
  sendJson(res, error.status, body, error.headers);
}
