import type { Command } from 'commander';
import {
  disposeModel,
  evaluateDepths,
  fusedLoops,
  keepFractions,
  type FastDecoder,
  routerAgreement,
  evaluatePerplexity,
  perplexityWindows,
  type LoadedModel,
} from '@recur/engine';
import { parseNumber, UsageError } from '../errors.js';
import { progressBar } from '../progress.js';
import { readTextFile } from '@recur/engine/node';
import { depthFlags, exitHelp, kvHelp, modelDepth, type DepthFlags } from './depthOptions.js';
import { checkDvptDepth, dvptFlag, dvptHelp } from './dvptOptions.js';
import { compositionFields, compositionHelp } from './composeOptions.js';
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

interface EvalCliOptions extends ModelOptions {
  readonly data?: string;
  readonly maxBytes?: string;
  readonly window: string;
  readonly perLoop?: boolean;
  readonly exit?: string;
  readonly kv?: string;
  readonly json?: boolean;
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('perplexity of a text file, scored in independent windows that each start with BOS')
    .option('--model <path>', 'Hugging Face folder, .safetensors or .gguf file')
    .option('--data <file>', 'UTF-8 text file to score')
    .option('--max-bytes <n>', 'score only the first n bytes (a split trailing character is dropped)')
    .option('--window <n>', 'tokens per window, BOS included', '256')
    .option('--adapter <dir>', adapterHelp, collectAdapter)
    .option(dvptFlag, dvptHelp)
    .option('--composition <dir>', compositionHelp)
    .option('--loops <n>', 'converted models: run the shared block n times (default: as converted)')
    .option(domainFlag, domainHelp)
    .option('--backend <name>', pathBackendHelp)
    .option('--threads <n>', 'wasm compute threads (default RECUR_THREADS, else all cores)')
    .option(
      '--per-loop',
      "recursive models: perplexity when every token exits after each loop; MoR router models: when every token is forced to run exactly d loops with the router's gated updates (expert: each loop's gate; token: its form's gate for depth d)",
    )
    .option('--exit <rule>', `${exitHelp}; reports perplexity and average depth under the rule`)
    .option('--kv <mode>', kvHelp)
    .option(
      '--json',
      'print {"tokens", "meanNll", "perplexity", "path": fast|tfjs, "threads"} (with --per-loop/--exit: {"perLoop", "policy", "tokens", "path"}: router rules score on fast unless --backend tfjs; expert-choice routers add "keep": [{"recursion", "fraction", "capacity"}] and "agreement") as JSON',
    )
    .action(async (options: EvalCliOptions) => {
      if (!options.data) throw new UsageError('--data FILE is required');
      const window = parseNumber('window', options.window, { integer: true, min: 2 });
      const maxBytes =
        options.maxBytes === undefined
          ? Infinity
          : parseNumber('max-bytes', options.maxBytes, { integer: true, min: 1 });
      const text = await readTextFile(options.data, { maxBytes });
      const flags = depthFlags(options);
      checkDvptDepth(options, flags, options.perLoop);
      const fast = fastOption(options);
      const model = await openModel(options, { tfjsPath: true });
      const depth = modelDepth(model, flags);
      if (options.perLoop || depth.exit) {
        const routedFast = fast !== false && depth.exit?.kind === 'router' ? await fusedLoops(model) : undefined;
        return evalDepths(
          model,
          text,
          window,
          depth,
          { json: options.json ?? false, perLoop: options.perLoop ?? false },
          routedFast,
        );
      }
      const bar = progressBar('scoring');
      const started = performance.now();
      const result = await evaluatePerplexity(model, text, {
        window,
        ...(fast === false && { fast }),
        onProgress: (d, t) => bar.update(d, t),
      }).finally(() => {
        bar.stop();
        disposeModel(model);
      });
      const seconds = (performance.now() - started) / 1000;
      if (options.json)
        return printJson({
          tokens: result.tokens,
          meanNll: result.meanNll,
          perplexity: result.perplexity,
          windows: result.windows,
          path: result.path,
          ...compositionFields(model),
          ...backendFields(),
          seconds,
        });
      console.log(
        `tokens ${result.tokens} (${result.path}) · windows ${result.windows} · mean NLL ${result.meanNll.toFixed(6)} · perplexity ${result.perplexity.toFixed(4)} · ${(result.tokens / seconds).toFixed(0)} tok/s`,
      );
    });
}

/** --per-loop / --exit: perplexity at each exit depth and under a rule, with the average depth. */
function evalDepths(
  model: LoadedModel,
  text: string,
  window: number,
  depth: DepthFlags,
  out: { json: boolean; perLoop: boolean },
  fast: FastDecoder | undefined,
): void {
  const bar = progressBar('scoring depths');
  const started = performance.now();
  try {
    const windows = perplexityWindows(model, text, window);
    const result = evaluateDepths(model, {
      windows,
      perLoop: out.perLoop,
      ...(depth.exit && { rule: depth.exit }),
      ...(depth.kvMode && { kvMode: depth.kvMode }),
      ...(fast && { fast }),
      onProgress: (d, t) => bar.update(d, t),
    });
    bar.stop();
    const expert = model.recur?.router?.kind === 'expert';
    const agreement = expert ? routerAgreement(model, windows) : undefined;
    const keep =
      expert && depth.exit?.kind === 'router' && result.policy ? keepFractions(result.policy.depthCounts) : undefined;
    const seconds = (performance.now() - started) / 1000;
    if (out.json) {
      printJson({
        ...result,
        ...(keep && { keep }),
        ...(agreement && { agreement }),
        ...backendFields(),
        seconds,
      });
      return;
    }
    const forced = model.recur?.router ? 'every token forced to' : 'exit after';
    for (const { depth: d, perplexity } of result.perLoop)
      console.log(`${forced} loop ${d}: perplexity ${perplexity.toFixed(4)}`);
    if (result.policy) {
      console.log(
        `under --exit: perplexity ${result.policy.perplexity.toFixed(4)} · average depth ${result.policy.averageDepth.toFixed(3)} · depth counts [${result.policy.depthCounts.join(', ')}]`,
      );
    }
    if (keep)
      console.log(
        `router keep per recursion (ran it / all routed tokens, vs trained capacity): ${keep
          .slice(1)
          .map((k) => `r${k.recursion} ${k.fraction.toFixed(3)} (capacity ${k.capacity.toFixed(3)})`)
          .join(' · ')}`,
      );
    if (agreement)
      console.log(
        `router: decode-time threshold agrees with training-time top-k on ${(100 * agreement.agreement).toFixed(1)}% of decisions (threshold-only ${agreement.thresholdOnly}, top-k-only ${agreement.topKOnly})`,
      );
    console.log(`${result.tokens} tokens (${result.path}) · ${seconds.toFixed(1)} s`);
  } finally {
    bar.stop();
    disposeModel(model);
  }
}
