import type { Command } from 'commander';
import { disposeModel, generate } from '@recur/engine';
import { parseNumber } from '../errors.js';
import { depthFlags, depthSummary, exitHelp, kvHelp, modelDepth } from './depthOptions.js';
import { compositionFields, compositionHelp } from './composeOptions.js';
import { parseSeed, samplingFlag } from './samplingFlags.js';
import { checkDvptDepth, dvptFlag, dvptHelp } from './dvptOptions.js';
import {
  backendFields,
  fastOption,
  openModel,
  pathBackendHelp,
  printJson,
  type ModelOptions,
  adapterHelp,
  collectAdapter,
} from './shared.js';
import { domainFlag, domainHelp } from './domainOptions.js';

interface GenerateCliOptions extends ModelOptions {
  readonly prompt: string;
  readonly maxNewTokens: string;
  readonly temperature: string;
  readonly topK: string;
  readonly topP: string;
  readonly seed: string;
  readonly fast?: boolean;
  readonly exit?: string;
  readonly kv?: string;
  readonly json?: boolean;
}

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('continue a prompt, streaming the text as it is generated')
    .option('--model <path>', 'Hugging Face folder, .safetensors or .gguf file')
    .option('--prompt <text>', 'text to continue (BOS is added)', '')
    .option('--max-new-tokens <n>', 'tokens to generate at most', '64')
    .option('--temperature <t>', '0 = greedy; at most 2', '0.8')
    .option('--top-k <k>', 'keep the k most likely tokens (0 = off)', '0')
    .option('--top-p <p>', 'nucleus sampling mass in (0, 1] (1 = off)', '0.95')
    .option('--seed <n>', 'random seed for sampling: an integer in [0, 2^32 − 1]', '0')
    .option('--adapter <dir>', adapterHelp, collectAdapter)
    .option(dvptFlag, dvptHelp)
    .option('--composition <dir>', compositionHelp)
    .option('--loops <n>', 'converted models: run the shared block n times (default: as converted)')
    .option(domainFlag, domainHelp)
    .option('--backend <name>', pathBackendHelp)
    .option('--threads <n>', 'wasm compute threads (default RECUR_THREADS, else all cores)')
    .option(
      '--fast',
      'accepted for scripts: the fused kernels are the default (a note says when the model runs on tfjs instead)',
    )
    .option('--exit <rule>', exitHelp)
    .option('--kv <mode>', kvHelp)
    .option(
      '--json',
      'print one JSON object {promptIds, ids, text, path: fast|tfjs, threads, depths (with --exit), …} instead of streaming',
    )
    .action(async (options: GenerateCliOptions) => {
      const settings = {
        prompt: options.prompt,
        maxNewTokens: parseNumber('max-new-tokens', options.maxNewTokens, { integer: true, min: 0 }),
        temperature: samplingFlag('temperature', 'temperature', options.temperature),
        topK: samplingFlag('topK', 'top-k', options.topK),
        topP: samplingFlag('topP', 'top-p', options.topP),
        seed: parseSeed(options.seed),
      };
      const flags = depthFlags(options);
      checkDvptDepth(options, flags);
      const fast = fastOption(options);
      const model = await openModel(options, { tfjsPath: true });
      const { exit, kvMode } = modelDepth(model, flags);
      const depth = { ...(exit && { exit }), ...(kvMode && { kvMode }), ...(flags.fullDepth && { fullDepth: true }) };
      const stream = !options.json;
      if (stream) process.stdout.write(options.prompt);
      const result = await generate(model, {
        ...settings,
        ...depth,
        ...(fast === false && { fast }),
        onText: stream ? (t) => process.stdout.write(t) : undefined,
      }).finally(() => disposeModel(model));
      if (options.fast && result.path !== 'fast')
        process.stderr.write('recur: note: the fast path is not available for this model; ran on tfjs\n');
      const decodeRate = result.ids.length > 1 ? ((result.ids.length - 1) / result.timings.decodeMs) * 1000 : 0;
      if (options.json)
        return printJson({
          ...result,
          ...compositionFields(model),
          ...backendFields(),
          decodeTokensPerSecond: decodeRate,
        });
      process.stdout.write('\n');
      process.stderr.write(
        `${result.ids.length} tokens (${result.path}) · prefill ${result.timings.prefillMs.toFixed(0)} ms · decode ${decodeRate.toFixed(1)} tok/s\n`,
      );
      if (result.depths) process.stderr.write(`${depthSummary(result.depths)}\n`);
    });
}
