import { connect, type Socket } from 'node:net';

export interface RawReply {
  /** 0 when the server closed the connection without an answer. */
  readonly status: number;
  readonly body: string;
  /** ms from the first byte sent to the connection's close. */
  readonly ms: number;
}

export interface RawRequest {
  readonly socket: Socket;
  /** Resolves once the server closes the connection, with whatever it answered. */
  readonly reply: Promise<RawReply>;
}

/** Opens a TCP connection to `base` and sends `bytes` as they are (a partial request stays partial). */
export function rawRequest(base: string, bytes: string | Buffer): RawRequest {
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname);
  const t0 = performance.now();
  const reply = new Promise<RawReply>((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4), ms: performance.now() - t0 });
    });
  });
  socket.write(bytes);
  return { socket, reply };
}

/** The head of a POST with a JSON body of `length` bytes. */
export const postHead = (path: string, length: number): string =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
