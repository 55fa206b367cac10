import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { dvptExportRefusal, dvptShares, type DvptShape, type DvptShare } from '@recur/engine';
import { parseNumber, UsageError } from '../errors.js';

// DVPT (Ruan et al. 2023, arXiv 2309.06123): train's flags for new DVPT modules, the --dvpt DIR that
// generate and eval load them with, and export's refusal (a DVPT update depends on the input).

export interface DvptCliOptions {
  readonly trainable?: string;
  readonly fromScratch?: boolean;
  readonly loraRank?: string;
  readonly loraLayers?: string;
  readonly dvptPrompts?: string;
  readonly dvptBottleneck?: string;
  readonly dvptShare?: string;
}

/** train's flags for DVPT modules on a frozen model. */
export function addDvptTrainingOptions(command: Command): Command {
  return command
    .option(
      '--dvpt-prompts <p>',
      'with --trainable dvpt: learnable prompt vectors per DVPT module, which attend causally to the tokens before each position (default 8)',
    )
    .option(
      '--dvpt-bottleneck <b>',
      'with --trainable dvpt: width the tokens are projected to and back from (default 16)',
    )
    .option(
      '--dvpt-share <how>',
      `with --trainable dvpt: ${dvptShares.join('|')} — one module for every step, one per block position reused at every loop, or one per step (default layers)`,
    );
}

export const dvptTrainableHelp =
  'dvpt: only new DVPT modules (shared dynamic adapter, see --dvpt-*) on the frozen model, written to --out/dvpt (no model/); load them with --dvpt';

/** The DVPT modules a train run asks for (--trainable dvpt), or undefined; one-line errors name the flag. */
export function dvptTraining(options: DvptCliOptions): DvptShape | undefined {
  const flags = [options.dvptPrompts, options.dvptBottleneck, options.dvptShare];
  if (options.trainable !== 'dvpt') {
    if (flags.some((f) => f !== undefined))
      throw new UsageError('--dvpt-prompts, --dvpt-bottleneck and --dvpt-share apply only with --trainable dvpt');
    return undefined;
  }
  if (options.fromScratch)
    throw new UsageError('--trainable dvpt trains modules on an existing --model, not --from-scratch');
  if (options.loraRank !== undefined)
    throw new UsageError('--trainable dvpt trains DVPT modules; --lora-rank trains a LoRA: give one of them');
  if (options.loraLayers !== undefined)
    throw new UsageError("--lora-layers narrows a model's own LoRA; not with --trainable dvpt");
  const share = (options.dvptShare ?? 'layers') as DvptShare;
  if (!dvptShares.includes(share))
    throw new UsageError(`--dvpt-share must be one of ${dvptShares.join(', ')}, got "${options.dvptShare}"`);
  return {
    prompts: parseNumber('dvpt-prompts', options.dvptPrompts ?? '8', { integer: true, min: 1, max: 4096 }),
    bottleneck: parseNumber('dvpt-bottleneck', options.dvptBottleneck ?? '16', { integer: true, min: 1, max: 65536 }),
    share,
  };
}

/** generate's and eval's --dvpt DIR. */
export const dvptFlag = '--dvpt <dir>';
export const dvptHelp =
  'a DVPT folder (recur train --trainable dvpt writes RUN/dvpt) for the model it was trained on: runs after every step, on the tfjs decoder (the --json "path" says tfjs); with --adapter, the adapters add first';

/** Per-token depth (--exit, --per-loop) runs tokens at different loops, which DVPT's causal prompts do not follow. */
export function checkDvptDepth(
  options: { readonly dvpt?: string },
  depth: { readonly exit?: unknown },
  perLoop = false,
): void {
  if (options.dvpt !== undefined && (depth.exit !== undefined || perLoop))
    throw new UsageError('--dvpt runs every token through every step: not with --exit or --per-loop');
}

/** export refuses a DVPT folder (as its model or --dvpt) in one line: no dense weight equals an input-dependent update. */
export function refuseDvptExport(path: string, options: { readonly dvpt?: string }): void {
  const folder = options.dvpt ?? (existsSync(join(path, 'dvpt_config.json')) ? path : undefined);
  if (folder !== undefined) throw new UsageError(dvptExportRefusal(folder));
}
