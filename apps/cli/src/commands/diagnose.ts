import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import {
  INFLECTION_RANKING_TEXT,
  autoEchoPlan,
  DEFAULT_ECHO_THRESHOLD,
  diagnoseModel,
  disposeModel,
  echoPlanText,
  perplexityWindows,
  type DiagnoseResult,
} from '@recur/engine';
import { checkOutput, readTextFile, writeOutput, type OutputTarget } from '@recur/engine/node';
import { parseNumber, UsageError } from '../errors.js';
import { progressBar } from '../progress.js';
import { diagnoseSvg } from './diagnoseSvg.js';
import { backendFields, openModel, printJson, table, type ModelOptions } from './shared.js';

interface DiagnoseCliOptions extends ModelOptions {
  readonly data?: string;
  readonly targetData?: string;
  readonly maxBytes?: string;
  readonly window: string;
  readonly minDrop: string;
  readonly json?: boolean;
  readonly out?: string;
  readonly force?: boolean;
}

const OUT_FILES = ['diagnose.json', 'diagnose.svg'];

export function registerDiagnose(program: Command): void {
  program
    .command('diagnose')
    .description(
      'per-layer adaptation diagnostics (attention entropy, activation and parameter gradient norms, ΔCKA to a target domain) and the inflection layers they point to — per (layer, loop) step for recursive models',
    )
    .option('--model <path>', 'Hugging Face folder, .safetensors or .gguf file (a converted folder for per-loop steps)')
    .option('--data <file>', 'UTF-8 text the metrics are computed on (the source data)')
    .option('--target-data <file>', 'UTF-8 text of the target domain: adds ΔCKA per layer and the target’s own metrics')
    .option('--max-bytes <n>', 'read only the first n bytes of each file')
    .option('--window <n>', 'tokens per window, BOS included', '128')
    .option('--min-drop <f>', 'inflection rule: least relative drop of ‖∂L/∂h‖ from the step above, in [0, 1)', '0.1')
    .option('--adapter <dir>', 'plain models: plug in a PEFT LoRA adapter folder')
    .option('--loops <n>', 'converted models: run the shared block n times')
    .option('--backend <name>', 'wasm (default), cpu or webgpu: the tfjs decoder with autodiff runs on it')
    .option('--threads <n>', 'wasm compute threads (default RECUR_THREADS, else all cores)')
    .option('--out <dir>', 'write diagnose.json and diagnose.svg (one panel per metric, inflection layers marked) here')
    .option('--force', 'replace an existing non-empty --out folder this command did not write')
    .option(
      '--json',
      'print {"layers": [{"layer", "steps", "attentionEntropy", "activationGradNorm", "paramGradNorm", "deltaCka"?, "target"?}], "steps"? (recursive models), "inflectionLayers", "inflectionSteps"?, "rule", "inflectionRanking" (steps, closest to inflection first: what --lora-layers auto:K takes), "rankingRule", "attentionSimilarity" (step × step), "similarityMetric", "echoPlan", "source", "target"?}',
    )
    .action(async (options: DiagnoseCliOptions) => {
      if (!options.data) throw new UsageError('--data FILE is required');
      const window = parseNumber('window', options.window, { integer: true, min: 2 });
      const minDrop = parseNumber('min-drop', options.minDrop, { min: 0, max: 0.999 });
      const maxBytes =
        options.maxBytes === undefined
          ? Infinity
          : parseNumber('max-bytes', options.maxBytes, { integer: true, min: 1 });
      const sources = [options.model, options.data, options.targetData].filter((p): p is string => p !== undefined);
      const target: OutputTarget = { kind: 'dir', sources, force: options.force ?? false, isOwn: isDiagnoseOutput };
      if (options.out) await checkOutput(options.out, target); // refuse before the (slow) passes
      const text = await readTextFile(options.data, { maxBytes });
      const targetText = options.targetData ? await readTextFile(options.targetData, { maxBytes }) : undefined;
      const model = await openModel(options);
      const bar = progressBar('diagnosing');
      const started = performance.now();
      let result: DiagnoseResult;
      try {
        result = await diagnoseModel(model, {
          windows: perplexityWindows(model, text, window),
          ...(targetText !== undefined && { targetWindows: perplexityWindows(model, targetText, window) }),
          minDrop,
          onProgress: (done, total) => bar.update(done, total),
        });
      } finally {
        bar.stop();
        disposeModel(model);
      }
      const report = jsonReport(result);
      if (options.out) {
        await writeOutput(options.out, target, async (temp) => {
          await writeFile(join(temp, 'diagnose.json'), `${JSON.stringify(report, null, 2)}\n`);
          await writeFile(join(temp, 'diagnose.svg'), diagnoseSvg(result));
        });
      }
      const seconds = (performance.now() - started) / 1000;
      if (options.json) return printJson({ ...report, ...backendFields(), seconds });
      printText(result, seconds, options.out);
    });
}

/** The --json shape: per-step entries and inflection steps only where they differ from layers (recursive models). */
function jsonReport(result: DiagnoseResult): Record<string, unknown> {
  return {
    layers: result.layers,
    ...(result.recursive && { steps: result.steps }),
    inflectionLayers: result.inflectionLayers,
    ...(result.recursive && { inflectionSteps: result.inflectionSteps }),
    rule: result.rule,
    inflectionRanking: result.inflectionRanking,
    rankingRule: INFLECTION_RANKING_TEXT,
    attentionSimilarity: result.attentionSimilarity,
    similarityMetric: result.similarityMetric,
    echoPlan: { threshold: DEFAULT_ECHO_THRESHOLD, reuse: autoEchoPlan(result.attentionSimilarity) },
    source: result.source,
    ...(result.target && { target: result.target }),
  };
}

function printText(result: DiagnoseResult, seconds: number, out: string | undefined): void {
  const flagged = new Set(result.inflectionSteps);
  const cka = result.target !== undefined;
  const rows = [
    ['step', 'layer', 'loop', 'entropy', '‖∂L/∂h‖', '‖∂L/∂θ‖', ...(cka ? ['ΔCKA'] : []), ''],
    ...result.steps.map((s) => [
      String(s.step),
      String(s.layer),
      String(s.loop),
      s.attentionEntropy.toFixed(4),
      s.activationGradNorm.toExponential(3),
      s.paramGradNorm.toExponential(3),
      ...(cka ? [(s.deltaCka ?? NaN).toFixed(4)] : []),
      flagged.has(s.step) ? '← inflection' : '',
    ]),
  ];
  console.log(table(rows));
  console.log(`rule: ${result.rule}`);
  console.log(
    `inflection layers: ${result.inflectionLayers.length ? result.inflectionLayers.join(', ') : 'none'}${result.recursive ? ` (steps ${result.inflectionSteps.join(', ') || 'none'})` : ''}`,
  );
  console.log(
    `ranked (auto:K takes the first K steps): ${result.inflectionRanking.join(', ')} — ${INFLECTION_RANKING_TEXT}`,
  );
  printSimilarity(result);
  const target = result.target ? ` · target ${result.target.tokens} tokens, loss ${result.target.loss.toFixed(4)}` : '';
  console.log(
    `source ${result.source.tokens} tokens, loss ${result.source.loss.toFixed(4)}${target} · ${seconds.toFixed(1)} s${out ? ` · wrote ${out}` : ''}`,
  );
}

/** The step × step attention-map similarity and the EchoAtt plan `convert --echo-attention auto` would pick. */
function printSimilarity(result: DiagnoseResult): void {
  const steps = result.attentionSimilarity.length;
  const header = ['sim', ...Array.from({ length: steps }, (_, b) => String(b))];
  const rows = result.attentionSimilarity.map((row, a) => [String(a), ...row.map((v) => v.toFixed(3))]);
  console.log(`attention-map similarity per step pair (${result.similarityMetric}):`);
  console.log(table([header, ...rows]));
  const plan = autoEchoPlan(result.attentionSimilarity);
  console.log(`EchoAtt auto plan at similarity ≥ ${DEFAULT_ECHO_THRESHOLD}: ${echoPlanText(plan)}`);
}

/** An existing --out folder is ours when it holds only what diagnose writes and its JSON has a rule. */
async function isDiagnoseOutput(dir: string): Promise<boolean> {
  const entries = await readdir(dir);
  if (!entries.every((e) => OUT_FILES.includes(e))) return false;
  try {
    const json = JSON.parse(await readFile(join(dir, 'diagnose.json'), 'utf8')) as { rule?: unknown };
    return typeof json.rule === 'string';
  } catch {
    return false;
  }
}
