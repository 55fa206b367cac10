import type { Command } from 'commander';
import { benchmarkForward, modelPresets, presetDecoder, type Decoder } from '@recur/engine';
import { activeBackend, wasmThreads } from '@recur/tensor';
import { parseNumber, UsageError } from '../errors.js';
import { openModel, printJson, startBackend, type ModelOptions } from './shared.js';

interface BenchCliOptions extends ModelOptions {
  readonly preset?: string;
  readonly prefill: string;
  readonly decode: string;
  readonly json?: boolean;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('time a batch-1 prefill and cached decode (tokens/s, prefill GFLOP/s)')
    .option('--model <path>', 'Hugging Face folder, .safetensors or .gguf file')
    .option('--preset <name>', `random weights in a public model's shape (instead of --model): ${Object.keys(modelPresets).join(', ')}`)
    .option('--prefill <n>', 'prompt tokens', '256')
    .option('--decode <n>', 'decode steps', '64')
    .option('--backend <name>', 'tensor backend: wasm (default in Node), cpu')
    .option('--threads <n>', 'wasm compute threads (default RECUR_THREADS, else 1)')
    .option('--json', 'print one JSON object')
    .action(async (options: BenchCliOptions) => {
      const prefillTokens = parseNumber('prefill', options.prefill, { integer: true, min: 1 });
      const decodeTokens = parseNumber('decode', options.decode, { integer: true, min: 1 });
      const { decoder, label } = await benchModel(options);
      const result = await benchmarkForward(decoder, { prefillTokens, decodeTokens });
      const report = { model: label, backend: activeBackend(), threads: activeBackend() === 'wasm' ? wasmThreads() : 1, parameters: decoder.parameterCount, prefillTokens, decodeTokens, ...result };
      decoder.dispose();
      if (options.json) return printJson(report);
      console.log(
        `${label} (${report.backend}${report.threads > 1 ? ` × ${report.threads} threads` : ''}, ${report.parameters.toLocaleString('en-US')} params): prefill ${result.prefillTokensPerSecond.toFixed(1)} tok/s ` +
          `(${result.prefillGflops.toFixed(1)} GFLOP/s) · decode ${result.decodeTokensPerSecond.toFixed(1)} tok/s (${result.decodeMsPerToken.toFixed(2)} ms/token)`,
      );
    });
}

async function benchModel(options: BenchCliOptions): Promise<{ decoder: Decoder; label: string }> {
  if (options.preset && options.model) throw new UsageError('give --model or --preset, not both (--preset times random weights in a public shape)');
  if (options.preset) {
    if (!modelPresets[options.preset]) throw new UsageError(`--preset must be one of ${Object.keys(modelPresets).join(', ')}, got "${options.preset}"`);
    await startBackend(options);
    return { decoder: presetDecoder(options.preset)!, label: `${options.preset} (random weights)` };
  }
  if (!options.model) throw new UsageError('give --model PATH or --preset NAME');
  const model = await openModel(options);
  return { decoder: model.decoder, label: model.source.path };
}
