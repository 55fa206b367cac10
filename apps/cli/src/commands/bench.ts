import type { Command } from 'commander';
import {
  benchmarkForward,
  disposeFast,
  fastDecoderFor,
  modelPresets,
  presetDecoder,
  type LoadedModel,
} from '@recur/engine';
import { activeBackend } from '@recur/tensor';
import { parseNumber, UsageError } from '../errors.js';
import {
  computeThreads,
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
    .option('--json', 'print one JSON object {model, path: fast|tfjs, backend, threads, …timings}')
    .action(async (options: BenchCliOptions) => {
      const prefillTokens = parseNumber('prefill', options.prefill, { integer: true, min: 1 });
      const decodeTokens = parseNumber('decode', options.decode, { integer: true, min: 1 });
      const { decoder, label, lora } = await benchModel(options);
      // The fused path wherever generate would take it; --backend tfjs (or cpu) times the tfjs decoder.
      const fast =
        fastOption(options) === false ? undefined : (await fastDecoderFor({ decoder, ...(lora && { lora }) })).fast;
      const result = await benchmarkForward(decoder, { prefillTokens, decodeTokens, ...(fast && { fast }) }).finally(
        () => disposeFast({ decoder }),
      );
      const path = fast ? 'fast' : 'tfjs';
      const report = {
        model: label,
        path,
        backend: activeBackend(),
        threads: computeThreads(),
        parameters: decoder.parameterCount,
        prefillTokens,
        decodeTokens,
        ...result,
      };
      decoder.dispose();
      if (options.json) return printJson(report);
      console.log(
        `${label} (${path} on ${report.backend}${report.threads > 1 ? ` × ${report.threads} threads` : ''}, ${report.parameters.toLocaleString('en-US')} params): prefill ${result.prefillTokensPerSecond.toFixed(1)} tok/s ` +
          `(${result.prefillGflops.toFixed(1)} GFLOP/s) · decode ${result.decodeTokensPerSecond.toFixed(1)} tok/s (${result.decodeMsPerToken.toFixed(2)} ms/token)`,
      );
    });
}

async function benchModel(
  options: BenchCliOptions,
): Promise<Pick<LoadedModel, 'decoder' | 'lora'> & { label: string }> {
  if (options.preset && options.model)
    throw new UsageError('give --model or --preset, not both (--preset times random weights in a public shape)');
  if (options.preset) {
    if (!modelPresets[options.preset])
      throw new UsageError(`--preset must be one of ${Object.keys(modelPresets).join(', ')}, got "${options.preset}"`);
    await startBackend(options, { tfjsPath: true });
    return { decoder: presetDecoder(options.preset)!, label: `${options.preset} (random weights)` };
  }
  if (!options.model) throw new UsageError('give --model PATH or --preset NAME');
  const model = await openModel(options, { tfjsPath: true });
  return { decoder: model.decoder, ...(model.lora && { lora: model.lora }), label: model.source.path };
}
