import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServingEngine } from '@recur/engine';
import type { Socket } from 'node:net';
import { ClientGoneError } from './body.js';
import { bearerCheck } from './auth.js';
import { answerRaw, onClientError } from './clientErrors.js';
import { draining, handleGenerate, type GenerateContext } from './generateRoute.js';
import type { ServeTokenizer } from './generation.js';
import { HttpError, sendError, sendJson } from './httpError.js';
import { AdmissionGate, type ServeLimits } from './limits.js';
import { DomainCounters } from './domainCounters.js';
import { metricsText } from './metrics.js';

export interface ServeServerOptions {
  /** The engine requests run on; the server never disposes it. */
  readonly engine: ServingEngine;
  readonly tokenizer: ServeTokenizer;
  /** The `model` named in responses and GET /v1/models. */
  readonly modelName: string;
  /** Names of the engine's adapters (id k ↔ adapters[k − 1]), listed by GET /v1/models and picked by a request's "model". */
  readonly adapters?: readonly string[];
  /** Domains of a model with per-domain ends (the engine routes a request's "domain"); listed by GET /v1/models. */
  readonly domains?: readonly string[];
  readonly limits: ServeLimits;
  /** Requests must carry `Authorization: Bearer <apiKey>` (all routes but /health); default: no key. */
  readonly apiKey?: string;
  /** One line per server-side failure (default: none). */
  readonly log?: (line: string) => void;
}

export interface ServeServer {
  readonly http: Server;
  /** Starts listening; port 0 picks a free port. */
  listen(port: number, host: string): Promise<{ readonly host: string; readonly port: number; readonly url: string }>;
  /**
   * Graceful shutdown: new requests get 503, bodies still arriving 408, in-flight requests finish,
   * then the listener closes (connections still sending headers get 408).
   */
  shutdown(): Promise<void>;
  /** Cancels every request still generating; each is answered 503. Resolves once all are answered. */
  cancelInFlight(): Promise<void>;
  /** Answered requests by status (also in GET /metrics). */
  readonly responses: ReadonlyMap<string, number>;
}

type Route = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

/** The HTTP half of `recur serve`: OpenAI-compatible routes over a ServingEngine. */
export function createServeServer(options: ServeServerOptions): ServeServer {
  const { engine, limits } = options;
  const gate = new AdmissionGate(limits.maxQueue);
  const responses = new Map<string, number>();
  const open = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  const closing = new AbortController();
  const cancelling = new AbortController();
  let isDraining = false;
  const authorize = options.apiKey === undefined ? undefined : bearerCheck(options.apiKey);
  // recur extension: a model with per-domain ends lists them on every entry (any adapter runs with any domain)
  const domains = options.domains?.length ? { domains: options.domains } : {};
  const domainCounters = new DomainCounters();
  const ctx: GenerateContext = {
    engine,
    tokenizer: options.tokenizer,
    modelName: options.modelName,
    adapters: options.adapters ?? [],
    domains: options.domains ?? [],
    domainCounters,
    limits,
    gate,
    isDraining: () => isDraining,
    closing: closing.signal,
    cancelled: cancelling.signal,
  };
  const routes: Readonly<Record<string, Readonly<Record<string, Route>>>> = {
    '/health': {
      GET: (_req, res) =>
        sendJson(res, isDraining ? 503 : 200, { status: isDraining ? 'draining' : 'ok', model: options.modelName }),
    },
    '/metrics': {
      GET: (_req, res) => {
        const text = metricsText({
          stats: engine.stats(),
          maxDepth: engine.maxDepth,
          inFlight: gate.inFlight,
          queueCapacity: limits.maxQueue,
          responses,
          draining: isDraining,
          adapters: [options.modelName, ...(options.adapters ?? [])],
          domains: options.domains?.length ? domainCounters.snapshot(options.domains) : [],
        });
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(text);
      },
    },
    '/v1/models': {
      GET: (_req, res) =>
        sendJson(res, 200, {
          object: 'list',
          data: [
            { id: options.modelName, object: 'model', created: 0, owned_by: 'recur', ...domains },
            ...(options.adapters ?? []).map((id) => ({
              id,
              object: 'model',
              created: 0,
              owned_by: 'recur',
              root: options.modelName,
              parent: options.modelName,
              ...domains,
            })),
          ],
        }),
    },
    '/v1/completions': { POST: (req, res) => handleGenerate(ctx, 'completion', req, res) },
    '/v1/chat/completions': { POST: (req, res) => handleGenerate(ctx, 'chat', req, res) },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = pathOf(req.url ?? '/');
    if (path !== '/health') authorize?.(req); // before routing: without the key, even the routes stay unknown
    const methods = routes[path];
    const route = methods?.[req.method ?? 'GET'];
    if (!methods)
      throw new HttpError(404, `no route ${path} (routes: ${Object.keys(routes).join(', ')})`, 'not_found_error');
    if (!route)
      throw new HttpError(405, `${req.method ?? '?'} is not allowed on ${path}`, 'invalid_request_error', null, {
        allow: Object.keys(methods).join(', '),
      });
    if (isDraining && req.method === 'POST') throw draining();
    await route(req, res);
  };

  const count = (status: string): void => void responses.set(status, (responses.get(status) ?? 0) + 1);
  // Node checks these every connectionsCheckingInterval; its own requestTimeout is a backstop for
  // bodies no route reads (the routes time bodies from their arrival, see readJsonBody).
  const receiveMs = limits.receiveTimeoutMs;
  const http = createServer(
    {
      headersTimeout: receiveMs,
      requestTimeout: 2 * receiveMs,
      connectionsCheckingInterval: Math.min(1000, Math.max(25, receiveMs / 4)),
    },
    (req, res) => {
      open.add(res);
      res.on('close', () => {
        open.delete(res);
        const status = res.writableFinished ? String(res.statusCode) : '499';
        count(status);
      });
      handle(req, res).catch((error: unknown) => answerFailure(res, error, options.log));
    },
  );
  http.on(
    'clientError',
    onClientError(receiveMs, (status) => count(String(status))),
  );
  http.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const allAnswered = (): Promise<unknown> =>
    Promise.all(
      [...open].map(
        (res) =>
          new Promise<void>((resolve) =>
            res.destroyed || res.writableFinished ? resolve() : res.once('close', () => resolve()),
          ),
      ),
    );

  return {
    http,
    responses,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        http.once('error', reject);
        http.listen(port, host, () => {
          http.off('error', reject);
          const address = http.address() as AddressInfo;
          const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve({ host: address.address, port: address.port, url: `http://${shown}:${address.port}` });
        });
      }),
    shutdown: async () => {
      isDraining = true;
      closing.abort();
      await engine.drain();
      await allAnswered();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeIdleConnections();
        // Every request is answered: what is left is idle, or a client still sending its headers.
        for (const socket of sockets) {
          if (socket.bytesWritten === 0) {
            count('408');
            answerRaw(socket, 408, 'the server is shutting down and the request had not all arrived');
          } else socket.destroy();
        }
      });
    },
    cancelInFlight: async () => {
      cancelling.abort();
      await allAnswered();
    },
  };
}

/** Answers a failed request: its HttpError, or a 500 (logged) for anything unexpected. */
function answerFailure(res: ServerResponse, error: unknown, log?: (line: string) => void): void {
  if (error instanceof ClientGoneError || res.destroyed) return;
  const httpError =
    error instanceof HttpError
      ? error
      : new HttpError(500, `internal error: ${error instanceof Error ? error.message : String(error)}`);
  if (!(error instanceof HttpError)) log?.(`recur serve: ${httpError.message}`);
  if (res.headersSent) {
    res.end();
    return;
  }
  sendError(res, httpError);
}

/** The path of a request target; 400 for one that is not a URL (`http://[`). */
function pathOf(target: string): string {
  try {
    return new URL(target, 'http://localhost').pathname;
  } catch {
    throw new HttpError(400, `the request target ${JSON.stringify(target.slice(0, 100))} is not a valid URL`);
  }
}
