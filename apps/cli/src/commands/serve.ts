import { basename } from 'node:path';
import type { Command } from 'commander';
import {
  createDomainServingEngine,
  createServingEngine,
  depthKvModes,
  disposeModel,
  type DepthKvMode,
  type ServingEngineOptions,
  type ServingMode,
} from '@recur/engine';
import { parseNumber, UsageError } from '../errors.js';
import { exitFlag } from './depthOptions.js';
import { defaultLimits, type ServeLimits } from '../serve/limits.js';
import { createServeServer, type ServeServer } from '../serve/server.js';
import { collectAdapter, openModel, printJson, type ModelOptions } from './shared.js';
import { loadServeAdapters, serveAdapterFlags } from './serveAdapters.js';

interface ServeCliOptions extends ModelOptions {
  readonly host: string;
  readonly port: string;
  readonly name?: string;
  readonly maxQueue: string;
  readonly maxBodyBytes: string;
  readonly maxTokens: string;
  readonly defaultMaxTokens: string;
  readonly maxPromptTokens?: string;
  readonly maxRows: string;
  readonly mode?: string;
  readonly exit?: string;
  readonly kv?: string;
  readonly shutdownTimeout: string;
  readonly receiveTimeout: string;
  readonly requestTimeout: string;
  readonly apiKey?: string;
  readonly insecureNoAuth?: boolean;
  readonly json?: boolean;
}

const loopback = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1']);
const modes: readonly ServingMode[] = ['continuous-depth', 'continuous-sequence', 'static', 'one-at-a-time'];

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      'serve a model over HTTP: OpenAI-compatible /v1/completions and /v1/chat/completions (streaming or not), /health, /metrics. A model converted with --ends per-domain:NAMES serves every domain\'s ends at once (the middle weights shared): a request body\'s "domain": "NAME" picks them (absent: the domain saved active; GET /v1/models lists the domains)',
    )
    .argument('[model]', 'Hugging Face folder, .safetensors or .gguf file (or --model)')
    .option('--model <path>', 'the model, when not given as the argument')
    .option(
      '--host <addr>',
      'address to bind (anything but loopback exposes the server to the network, and needs --api-key or --insecure-no-auth)',
      '127.0.0.1',
    )
    .option('--port <n>', 'port to listen on (0 picks a free one; the URL is printed)', '8000')
    .option('--name <id>', 'model id in responses and GET /v1/models (default: the file or folder name)')
    .option(
      '--max-queue <n>',
      'requests in flight at once (waiting + running); more get 429 with Retry-After',
      String(defaultLimits.maxQueue),
    )
    .option('--max-body-bytes <n>', 'larger request bodies get 413', String(defaultLimits.maxBodyBytes))
    .option('--max-tokens <n>', 'largest max_tokens a request may ask for (400 above)', String(defaultLimits.maxTokens))
    .option(
      '--default-max-tokens <n>',
      'max_tokens of a request that names none',
      String(defaultLimits.defaultMaxTokens),
    )
    .option('--max-prompt-tokens <n>', 'longest prompt in tokens, BOS included (default: the context minus one)')
    .option('--max-rows <n>', 'rows per batched engine step', '32')
    .option(
      '--mode <mode>',
      `batching: ${modes.join(' | ')} (default: continuous-depth for a recursive model, continuous-sequence otherwise)`,
    )
    .option(
      '--exit <rule>',
      'per-token depth: router[:T] (MoR router models; their default: every position, prompt included, routed as trained) | maxprob:P | entropy:H | fixed:D (early exit of generated tokens) | none (full depth) (recursive models only; refused for a plain one)',
    )
    .option(
      '--kv <mode>',
      `KV of loops a token skipped: ${depthKvModes.join(' | ')} (default copy; router models: as trained)`,
    )
    .option(
      '--receive-timeout <s>',
      'seconds a client has to send its headers, and again its body (408 after)',
      String(defaultLimits.receiveTimeoutMs / 1000),
    )
    .option(
      '--request-timeout <s>',
      'seconds a request may generate once its body has arrived; then it is cancelled and answered 504 (0: no limit)',
      String(defaultLimits.requestTimeoutMs / 1000),
    )
    .option(
      '--shutdown-timeout <s>',
      'on SIGTERM/SIGINT: seconds to let in-flight requests finish before cancelling them (each answered 503)',
      '30',
    )
    .option(
      '--adapter <name=dir>',
      'NAME=DIR: serve a PEFT LoRA adapter, or a ScaLearn composition folder (train --compose; folded into its one LoRA at load), that a request picks with "model": "NAME" (GET /v1/models lists them; an unknown name is a 404); repeatable: requests for different adapters share one batch. A gated composition or a DVPT folder is refused (input-dependent: no fused kernel). A bare DIR adds its LoRA delta to the base for every request',
      collectAdapter,
    )
    .option('--loops <n>', 'converted models: run the shared block n times (default: as converted)')
    .option(
      '--backend <name>',
      'tensor backend: the serving engine runs on the fused wasm kernels only (wasm, the default in Node); webgpu is refused',
    )
    .option('--threads <n>', 'wasm compute threads (default RECUR_THREADS, else all cores)')
    .option(
      '--api-key <key>',
      'require "Authorization: Bearer <key>" on every route but /health (401 otherwise); default: RECUR_API_KEY, which keeps the key out of the process list',
    )
    .option('--insecure-no-auth', 'allow a non-loopback --host without an API key')
    .option('--json', 'print one JSON line {event: "listening", url, host, port, model, …} when ready (for scripts)')
    .action(async (modelArg: string | undefined, options: ServeCliOptions) => {
      if (modelArg && options.model && modelArg !== options.model)
        throw new UsageError('give the model once: as the argument or as --model');
      const apiKey = apiKeyFlag(options);
      const engineOptions = engineFlags(options);
      const port = parseNumber('port', options.port, { integer: true, min: 0, max: 65535 });
      const shutdownMs = parseNumber('shutdown-timeout', options.shutdownTimeout, { min: 0 }) * 1000;
      if (options.backend === 'webgpu') throw new UsageError(webGpuNotServed);
      const source = modelArg ?? options.model ?? 'model';
      const modelName = options.name ?? basename(source.replace(/\/+$/, '')).replace(/\.(gguf|safetensors)$/, '');
      const adapterFlags = serveAdapterFlags(options.adapter as readonly string[] | undefined, modelName);
      const model = await openModel({ ...options, model: modelArg ?? options.model, adapter: adapterFlags.base });
      const limits = serveLimits(options, model.decoder.config.maxPositionEmbeddings);
      if (engineOptions.exit && !model.recur) {
        disposeModel(model);
        throw new UsageError(
          `--exit needs a recursive model; ${modelArg ?? options.model ?? 'model'} is a plain model (1 loop)`,
        );
      }
      if (engineOptions.router && !model.recur?.router) {
        disposeModel(model);
        throw new UsageError(
          `--exit router needs a model trained with a router (recur train --router); ${modelArg ?? options.model ?? 'model'} has none`,
        );
      }
      const adapters = await loadServeAdapters(model, adapterFlags).catch((error: unknown) => {
        disposeModel(model);
        throw error;
      });
      const served = { ...engineOptions, adapters };
      const engine = await (model.domain
        ? createDomainServingEngine(model, served)
        : createServingEngine(model, served)
      ).catch((error: unknown) => {
        for (const lora of adapters) lora.dispose();
        disposeModel(model);
        throw error;
      });
      const server = createServeServer({
        engine,
        tokenizer: model.tokenizer,
        modelName,
        adapters: adapterFlags.named.map((a) => a.name),
        domains: model.domain?.section.domains ?? [],
        limits,
        ...(apiKey !== undefined && { apiKey }),
        log: (line) => process.stderr.write(`${line}\n`),
      });
      const where = await server.listen(port, options.host);
      if (!isLoopback(where.host) && apiKey === undefined)
        process.stderr.write(
          `recur serve: note: listening on ${where.host} — reachable from the network, with no authentication (--insecure-no-auth)\n`,
        );
      const ready = {
        event: 'listening',
        url: where.url,
        host: where.host,
        port: where.port,
        model: modelName,
        adapters: adapterFlags.named.map((a) => a.name),
        domains: model.domain?.section.domains ?? [],
        maxDepth: engine.maxDepth,
        context: limits.contextLength,
        pid: process.pid,
      };
      if (options.json) printJson(ready);
      else
        process.stdout.write(
          `recur serve: ${modelName} (${engine.maxDepth} loop${engine.maxDepth === 1 ? '' : 's'}) listening on ${where.url}\n`,
        );
      const code = await untilSignal(server, shutdownMs);
      engine.dispose();
      for (const lora of adapters) lora.dispose();
      disposeModel(model);
      process.exit(code);
    });
}

// Continuous depth-wise batching lives in the fused wasm kernels; a webgpu server would be a second engine to keep.
const webGpuNotServed =
  '--backend webgpu: the serving engine runs only on the fused wasm kernels (continuous depth-wise batching); serve on wasm, or use generate, eval or bench with --backend webgpu';

/** After cancelling, how long the cancelled requests get to be answered before the process exits anyway. */
const answerCancelledMs = 2000;

/**
 * Waits for SIGTERM or SIGINT, then shuts down gracefully: 0 when every in-flight request finished
 * in time, 1 when some had to be cancelled (each is still answered, 503) or a second signal came.
 */
function untilSignal(server: ServeServer, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const stop = (signal: string): void => {
      process.stderr.write(`recur serve: ${signal}: finishing in-flight requests, refusing new ones\n`);
      const timer = setTimeout(() => {
        process.stderr.write(
          `recur serve: in-flight requests still running after ${timeoutMs / 1000} s; cancelling them\n`,
        );
        const answered = server.cancelInFlight();
        void Promise.race([answered, new Promise((r) => setTimeout(r, answerCancelledMs))]).then(() => resolve(1));
      }, timeoutMs);
      server.shutdown().then(
        () => {
          clearTimeout(timer);
          process.stderr.write('recur serve: stopped\n');
          resolve(0);
        },
        () => resolve(1),
      );
      process.once(signal === 'SIGTERM' ? 'SIGINT' : 'SIGTERM', () => resolve(1));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/** Node timers hold at most 2^31 − 1 ms (about 24 days). */
const maxTimerSeconds = 2_000_000;

/** The API key (--api-key, else RECUR_API_KEY); refuses a network-facing host without one unless --insecure-no-auth. */
function apiKeyFlag(options: ServeCliOptions): string | undefined {
  const key = options.apiKey ?? process.env.RECUR_API_KEY;
  if (key !== undefined && key.trim() === '')
    throw new UsageError(`${options.apiKey !== undefined ? '--api-key' : 'RECUR_API_KEY'} must not be empty`);
  if (key === undefined && !isLoopback(options.host) && !options.insecureNoAuth) {
    throw new UsageError(
      `--host ${options.host} is reachable from the network: give --api-key (or RECUR_API_KEY), or --insecure-no-auth to serve without authentication`,
    );
  }
  return key;
}

const isLoopback = (host: string): boolean => loopback.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);

function serveLimits(options: ServeCliOptions, contextLength: number): ServeLimits {
  const whole = (name: string, raw: string, min = 1): number => parseNumber(name, raw, { integer: true, min });
  return {
    maxQueue: whole('max-queue', options.maxQueue),
    maxBodyBytes: whole('max-body-bytes', options.maxBodyBytes, 64),
    maxTokens: whole('max-tokens', options.maxTokens),
    defaultMaxTokens: whole('default-max-tokens', options.defaultMaxTokens),
    maxPromptTokens:
      options.maxPromptTokens === undefined ? contextLength - 1 : whole('max-prompt-tokens', options.maxPromptTokens),
    contextLength,
    retryAfterSeconds: defaultLimits.retryAfterSeconds,
    receiveTimeoutMs:
      parseNumber('receive-timeout', options.receiveTimeout, { min: 0.001, max: maxTimerSeconds }) * 1000,
    requestTimeoutMs: parseNumber('request-timeout', options.requestTimeout, { min: 0, max: maxTimerSeconds }) * 1000,
  };
}

function engineFlags(options: ServeCliOptions): ServingEngineOptions {
  if (options.mode !== undefined && !modes.includes(options.mode as ServingMode))
    throw new UsageError(`--mode must be one of ${modes.join(', ')}, got "${options.mode}"`);
  if (options.kv !== undefined && !depthKvModes.includes(options.kv as DepthKvMode))
    throw new UsageError(`--kv must be one of ${depthKvModes.join(', ')}, got "${options.kv}"`);
  const maxRows = parseNumber('max-rows', options.maxRows, { integer: true, min: 1, max: 1024 });
  const threads =
    options.threads === undefined
      ? undefined
      : parseNumber('threads', options.threads, { integer: true, min: 1, max: 64 });
  return {
    scheduler: { maxRowsPerStep: maxRows },
    ...(options.mode !== undefined && { mode: options.mode as ServingMode }),
    ...(options.kv !== undefined && { kvMode: options.kv as DepthKvMode }),
    ...(options.exit !== undefined && exitOptions(options.exit)),
    ...(threads !== undefined && { threads }),
  };
}

/** --exit as engine options: none → full depth (router off), router[:T] → the model's router, else a confidence policy. */
function exitOptions(text: string): Pick<ServingEngineOptions, 'exit' | 'router'> {
  if (text.trim().toLowerCase() === 'none') return { router: false };
  const rule = exitFlag(text);
  if (rule.kind === 'router') return { router: rule.threshold === undefined ? {} : { threshold: rule.threshold } };
  return { exit: rule.policy };
}
