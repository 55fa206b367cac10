import type { Command } from 'commander';
import { disposeModel, gradientConflict, perplexityWindows, type LayerConflict } from '@recur/engine';
import { loadModel, readTextFile } from '@recur/engine/node';
import { parseNumber, UsageError } from '../errors.js';
import { printJson, startBackend, table } from './shared.js';

interface ConflictCliOptions {
  readonly model?: string;
  readonly data?: string;
  readonly targetData?: string;
  readonly domains?: string;
  readonly maxBytes: string;
  readonly window: string;
  readonly windows: string;
  readonly backend?: string;
  readonly threads?: string;
  readonly json?: boolean;
}

/**
 * `recur gradient-conflict`: what motivates Uni-X ("Uni-X: Mitigating Modality Conflict with a
 * Two-End-Separated Architecture for Unified Multimodal Models", arXiv 2509.24365) — per stored layer, the
 * cosine between two domains' loss gradients; for a model with per-domain ends, with the ends shared
 * (both domains through the first domain's) and separate (each through its own).
 */
export function registerGradientConflict(program: Command): void {
  program
    .command('gradient-conflict')
    .description(
      "per layer, the cosine between two domains' gradients (Uni-X's measurement); models with per-domain ends: shared vs separate ends",
    )
    .option('--model <path>', 'Hugging Face folder, .safetensors, .gguf, or a converted Recur model')
    .option('--data <file>', 'UTF-8 text of the first domain')
    .option('--target-data <file>', 'UTF-8 text of the second domain')
    .option(
      '--domains <a,b>',
      'models with per-domain ends: the domain of --data and of --target-data (default: the first two)',
    )
    .option('--max-bytes <n>', 'read only the first n bytes of each file', '20000')
    .option('--window <n>', 'tokens per window, BOS included', '64')
    .option('--windows <n>', 'windows per domain the gradients average over', '8')
    .option('--backend <name>', 'wasm (default) or cpu: the tfjs decoder with autodiff runs on it')
    .option('--threads <n>', 'wasm compute threads (default RECUR_THREADS, else all cores)')
    .option('--json', 'print {"layers": [{"layer", "shared", "separate"}], …}')
    .action(async (options: ConflictCliOptions) => {
      if (!options.model) throw new UsageError('--model PATH is required');
      if (!options.data || !options.targetData) throw new UsageError('--data FILE and --target-data FILE are required');
      const maxBytes = parseNumber('max-bytes', options.maxBytes, { integer: true, min: 1 });
      const window = parseNumber('window', options.window, { integer: true, min: 2 });
      const count = parseNumber('windows', options.windows, { integer: true, min: 1 });
      await startBackend(options);
      const started = performance.now();
      const first = await loadModel(options.model);
      const models = [first];
      try {
        const ends = first.domain?.section;
        const names = domainPair(options.domains, ends?.domains);
        const texts = [
          await readTextFile(options.data, { maxBytes }),
          await readTextFile(options.targetData, { maxBytes }),
        ];
        const [wa, wb] = texts.map((t) => perplexityWindows(first, t, window).slice(0, count)) as [
          number[][],
          number[][],
        ];
        if (wa.length === 0 || wb.length === 0) throw new UsageError('--data and --target-data need some text each');
        const a = names ? await loadModel(options.model, { domain: names[0] }) : first;
        const b = names ? await loadModel(options.model, { domain: names[1] }) : first;
        if (names) models.push(a, b);
        const shared = gradientConflict(a, a, wa, wb);
        const separate = ends ? gradientConflict(a, b, wa, wb, ends.layers) : undefined;
        const layers = shared.map(({ layer, cosine }, i) => ({
          layer,
          shared: cosine,
          ...(separate && { separate: separate[i]!.cosine }),
        }));
        const seconds = (performance.now() - started) / 1000;
        if (options.json)
          return printJson({ layers, domains: names ?? null, windows: [wa.length, wb.length], seconds });
        printTable(shared, separate, names);
      } finally {
        for (const m of new Set(models)) disposeModel(m);
      }
    });
}

function domainPair(flag: string | undefined, domains: readonly string[] | undefined): [string, string] | undefined {
  if (!domains) {
    if (flag !== undefined) throw new UsageError('--domains applies to models with per-domain ends (convert --ends)');
    return undefined;
  }
  const names = flag === undefined ? domains.slice(0, 2) : flag.split(',').map((s) => s.trim());
  const unknown = names.find((n) => !domains.includes(n));
  if (names.length !== 2 || unknown !== undefined)
    throw new UsageError(`--domains must name two of the model's domains (${domains.join(', ')}), got "${flag}"`);
  return [names[0]!, names[1]!];
}

function printTable(
  shared: readonly LayerConflict[],
  separate: readonly LayerConflict[] | undefined,
  names: readonly string[] | undefined,
): void {
  const fmt = (c: number | null) => (c === null ? 'separate' : c.toFixed(4));
  console.log(
    table([
      [
        'layer',
        names ? `cos, shared ends (domain ${names[0]})` : 'cos(g_data, g_target)',
        ...(separate ? ['cos, separate ends'] : []),
      ],
      ...shared.map((s, i) => [String(s.layer), fmt(s.cosine), ...(separate ? [fmt(separate[i]!.cosine)] : [])]),
    ]),
  );
}
