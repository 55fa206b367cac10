import type { Command } from 'commander';
import {
  benchmarkForward,
  defaultKvMode,
  depthRouting,
  disposeFast,
  echoDecoder,
  EchoPlanError,
  fastDecoderFor,
  fusedLoops,
  modelPresets,
  parseEchoPlan,
  presetDecoder,
  type LoadedModel,
  type RoutedBench,
} from '@recur/engine';
import { parseNumber, UsageError } from '../errors.js';
import { depthFlags, kvHelp, modelDepth } from './depthOptions.js';
import {
  backendFields,
  fastOption,
  openModel,
  pathBackendHelp,
  printJson,
  startBackend,
  type ModelOptions,
} from './shared.js';

interface BenchCliOptions extends ModelOptions {
  readonly preset?: string;
  readonly prefill: string;
  readonly decode: string;
  readonly exit?: string;
  readonly kv?: string;
  readonly echoAttention?: string;
  readonly json?: boolean;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('time a batch-1 prefill and cached decode (tokens/s, prefill GFLOP/s) on the path generate would take')
    .option('--model <path>', 'Hugging Face folder, .safetensors or .gguf file')
    .option(
      '--preset <name>',
      `random weights in a public model's shape (instead of --model): ${Object.keys(modelPresets).join(', ')}`,
    )
    .option('--prefill <n>', 'prompt tokens', '256')
    .option('--decode <n>', 'decode steps', '64')
    .option('--backend <name>', pathBackendHelp)
    .option('--threads <n>', 'wasm compute threads (default RECUR_THREADS, else all cores)')
    .option(
      '--exit <rule>',
      'MoR router models: router[:T] (their default: prompt and decode tokens routed) or none (full depth)',
    )
    .option('--kv <mode>', kvHelp)
    .option(
      '--echo-attention <plan>',
      'time the model with this EchoAtt plan applied (STEP<-SOURCE,…: those steps reuse the source step’s attention maps; random-weight presets too)',
    )
    .option(
      '--json',
      'print one JSON object {model, path: fast|tfjs, backend, threads, routing: router|none, averageDepth?, …timings}',
    )
    .action(async (options: BenchCliOptions) => {
      const prefillTokens = parseNumber('prefill', options.prefill, { integer: true, min: 1 });
      const decodeTokens = parseNumber('decode', options.decode, { integer: true, min: 1 });
      const flags = depthFlags(options);
      const benched = await benchModel(options);
      const { lora, model } = benched;
      const { decoder, label } = withEcho(benched, options.echoAttention);
      const routed = model ? await routedBench(model, flags, fastOption(options) === false) : undefined;
      // The fused path wherever generate would take it; --backend tfjs (or cpu) times the tfjs decoder.
      const fast =
        fastOption(options) === false ? undefined : (await fastDecoderFor({ decoder, ...(lora && { lora }) })).fast;
      const result = await benchmarkForward(decoder, {
        prefillTokens,
        decodeTokens,
        ...(fast && { fast }),
        ...(routed && { routed }),
      }).finally(() => disposeFast({ decoder }));
      const path = fast ? 'fast' : 'tfjs';
      const routing = routed ? 'router' : 'none';
      const report = {
        model: label,
        path,
        ...backendFields(),
        parameters: decoder.parameterCount,
        routing,
        prefillTokens,
        decodeTokens,
        ...result,
      };
      decoder.dispose();
      if (options.json) return printJson(report);
      console.log(
        `${label} (${path} on ${report.backend}${report.adapter ? ` (${report.adapter})` : ''}${report.threads > 1 ? ` × ${report.threads} threads` : ''}, ${report.parameters.toLocaleString('en-US')} params): prefill ${result.prefillTokensPerSecond.toFixed(1)} tok/s ` +
          `(${result.prefillGflops.toFixed(1)} GFLOP/s${routed ? ' of full-depth work' : ''}) · decode ${result.decodeTokensPerSecond.toFixed(1)} tok/s (${result.decodeMsPerToken.toFixed(2)} ms/token)` +
          (result.averageDepth === undefined
            ? ''
            : ` · routed by its router, mean depth ${result.averageDepth.toFixed(2)}`),
      );
    });
}

/**
 * A router model is timed with its routing (every token routed, as generate runs it) unless --exit none;
 * routed timing runs on the fused path only, and confidence exits are timed by bench:serve.
 */
async function routedBench(
  model: LoadedModel,
  flags: ReturnType<typeof depthFlags>,
  tfjs: boolean,
): Promise<RoutedBench | undefined> {
  const depth = modelDepth(model, flags);
  if (!depth.exit) return undefined;
  if (depth.exit.kind !== 'router')
    throw new UsageError(
      'bench times router routing (--exit router[:T]) or full depth (--exit none); confidence exits are timed by pnpm bench:serve',
    );
  if (tfjs)
    throw new UsageError('a routed bench runs on the fast path; with --backend tfjs add --exit none (full depth)');
  const routing = depthRouting(model, depth.exit);
  if (!(await fusedLoops(model)))
    throw new UsageError(`${model.source.path}: this model's loops do not run on the fast path; add --exit none`);
  return { routing, kvMode: depth.kvMode ?? defaultKvMode(model, depth.exit) };
}

async function benchModel(
  options: BenchCliOptions,
): Promise<Pick<LoadedModel, 'decoder' | 'lora'> & { label: string; model?: LoadedModel }> {
  if (options.preset && options.model)
    throw new UsageError('give --model or --preset, not both (--preset times random weights in a public shape)');
  if (options.preset) {
    if (options.exit !== undefined)
      throw new UsageError('--exit applies to --model (a router model); presets have no router');
    if (!modelPresets[options.preset])
      throw new UsageError(`--preset must be one of ${Object.keys(modelPresets).join(', ')}, got "${options.preset}"`);
    await startBackend(options, { tfjsPath: true });
    return { decoder: presetDecoder(options.preset)!, label: `${options.preset} (random weights)` };
  }
  if (!options.model) throw new UsageError('give --model PATH or --preset NAME');
  const model = await openModel(options, { tfjsPath: true });
  return { decoder: model.decoder, ...(model.lora && { lora: model.lora }), label: model.source.path, model };
}

/** --echo-attention PLAN: the decoder with the plan applied (its label says so); the source decoder is consumed. */
function withEcho<T extends { decoder: LoadedModel['decoder']; label: string; lora?: LoadedModel['lora'] }>(
  benched: T,
  plan: string | undefined,
): { decoder: LoadedModel['decoder']; label: string } {
  if (plan === undefined) return benched;
  let reuse: ReturnType<typeof parseEchoPlan>;
  try {
    reuse = parseEchoPlan(plan);
  } catch (error) {
    if (error instanceof EchoPlanError) throw new UsageError(`--echo-attention: ${error.message}`);
    throw error;
  }
  const decoder = usageOnRange(() =>
    echoDecoder(benched.decoder, reuse, benched.lora ? { adapter: benched.lora } : {}),
  );
  return { decoder, label: `${benched.label} with EchoAtt ${plan}` };
}

/** A plan the model cannot take (a step out of range, an existing plan) is a usage error naming the flag. */
function usageOnRange<T>(make: () => T): T {
  try {
    return make();
  } catch (error) {
    if (error instanceof RangeError || (error instanceof Error && error.name === 'ConfigError'))
      throw new UsageError(`--echo-attention: ${error.message}`);
    throw error;
  }
}
