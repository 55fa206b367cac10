import type { Command } from 'commander';
import { convertMasa, disposeModel, parseMasaModules } from '@recur/engine';
import { checkModelOutput, saveConvertedModel } from '@recur/engine/node';
import { parseNumber, UsageError } from '../errors.js';
import { openModel, printJson, table, type ModelOptions } from './shared.js';

export interface MasaCliOptions extends ModelOptions {
  readonly out?: string;
  readonly atoms?: string;
  readonly masaModules: string;
  readonly force?: boolean;
  readonly json?: boolean;
}

/** Options of `convert` that build a looped block: they mean nothing for MASA. */
const loopingFlags = {
  loops: '--loops',
  strategy: '--strategy',
  depthFit: '--depth-fit',
  init: '--init',
  loraRankAttn: '--lora-rank-attn',
  loraRankMlp: '--lora-rank-mlp',
  loraInit: '--lora-init',
  loraScale: '--lora-scale',
  norms: '--norms',
  loraKind: '--lora-kind',
  hyperDim: '--hyper-dim',
} as const;

/** `--atoms` / `--masa-modules` given without `--sharing masa`, or looping flags with it: one line. */
export function checkSharingFlags(sharing: string, command: Command): void {
  const given = (name: string) => command.getOptionValueSource(name) === 'cli';
  if (sharing === 'masa') {
    const flag = Object.entries(loopingFlags).find(([name]) => given(name))?.[1];
    if (flag)
      throw new UsageError(
        `${flag} builds a looped block; --sharing masa shares a plain model's attention as matrix atoms and is not combined with looping`,
      );
    return;
  }
  if (sharing !== 'recursive') throw new UsageError(`--sharing must be recursive or masa, got "${sharing}"`);
  for (const flag of ['atoms', 'masaModules'])
    if (given(flag))
      throw new UsageError(`--${flag === 'atoms' ? 'atoms' : 'masa-modules'} applies to --sharing masa only`);
}

/**
 * `recur convert SRC --out DIR --sharing masa --atoms S`: attention projections as S shared matrix
 * atoms per type (MASA, Share Your Attention, 2025); prints what the model stores.
 */
export async function runMasaConvert(source: string, options: MasaCliOptions): Promise<void> {
  if (!options.out) throw new UsageError('--out DIR is required');
  if (options.atoms === undefined) throw new UsageError('--sharing masa needs --atoms S (atoms per projection type)');
  const atoms = parseNumber('atoms', options.atoms, { integer: true, min: 1 });
  const modules = usage(() => parseMasaModules(options.masaModules));
  const target = { sources: [source], force: options.force ?? false };
  await checkModelOutput(options.out, 'folder', target); // refuse before the conversion
  const started = performance.now();
  const original = await openModel({ model: source, ...(options.backend ? { backend: options.backend } : {}) });
  try {
    if (atoms > original.config.numLayers)
      throw new UsageError(`--atoms must be at most the model's ${original.config.numLayers} layers, got ${atoms}`);
    const model = await convertMasa(original, { atoms, modules });
    const { bytes } = await saveConvertedModel(model, options.out, target).finally(() => disposeModel(model));
    const { source: sourceParameters, stored } = model.parameters;
    const summary = {
      out: options.out,
      sharing: 'masa',
      atoms,
      modules,
      centred: false,
      energy: model.energy,
      parameters: { source: sourceParameters, stored, saved: sourceParameters - stored },
      bytes: { source: sourceParameters * 4, converted: bytes },
      seconds: (performance.now() - started) / 1000,
    };
    if (options.json) return printJson(summary);
    const fmt = (n: number) => n.toLocaleString('en-US');
    console.log(
      table([
        ['', 'unique parameters', 'F32 bytes (parameters × 4)'],
        ['source', fmt(sourceParameters), fmt(sourceParameters * 4)],
        [`MASA (${atoms} atoms per projection)`, fmt(stored), fmt(stored * 4)],
      ]),
    );
    console.log(`model.safetensors: ${fmt(bytes)} bytes written`);
    const kept = model.energy.map((e) => `${e.module.split('.')[1]} ${(100 * e.captured).toFixed(2)}%`).join(', ');
    console.log(`atoms keep (uncentred truncated SVD of the stacked layer matrices): ${kept}`);
    console.log(`written to ${options.out} in ${summary.seconds.toFixed(1)} s`);
  } finally {
    disposeModel(original);
  }
}

function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}
