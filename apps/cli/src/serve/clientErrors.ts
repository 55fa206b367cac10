import type { Duplex } from 'node:stream';
import { tooSlow } from './body.js';

/**
 * Answers on a raw socket, for requests that never reach a route: Node's HTTP parser refused them
 * (not HTTP, headers too large) or the client did not finish its headers in time. Same OpenAI error
 * body as every other answer; the connection is closed after it.
 */
export function answerRaw(socket: Duplex, status: number, message: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code: status } })}\n`;
  const head = [
    `HTTP/1.1 ${status} ${reasons[status] ?? 'Error'}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
}

const reasons: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/** The server's 'clientError' listener: status and message for what Node's parser reported. */
export function onClientError(
  receiveTimeoutMs: number,
  counted: (status: number) => void,
): (error: Error & { code?: string }, socket: Duplex) => void {
  const answer = (socket: Duplex, status: number, message: string): void => {
    counted(status);
    answerRaw(socket, status, message);
  };
  return (error, socket) => {
    // Anything already written means a response is under way (or done): nothing more to say.
    if ((socket as Duplex & { bytesWritten?: number }).bytesWritten) {
      socket.destroy();
      return;
    }
    switch (error.code) {
      case 'ERR_HTTP_REQUEST_TIMEOUT':
        return answer(socket, 408, tooSlow(receiveTimeoutMs));
      case 'HPE_HEADER_OVERFLOW':
        return answer(socket, 431, 'the request headers are too large');
      case 'ECONNRESET':
        return socket.destroy();
      default:
        return answer(socket, 400, `the request is not valid HTTP/1.1 (${error.code ?? error.message})`);
    }
  };
}
