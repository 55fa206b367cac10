import type { Command } from 'commander';
import { compositionMethods, type CompositionSpec, type LoadedModel } from '@recur/engine';
import { loadParts, type CompositionTraining } from '@recur/engine/node';
import { UsageError } from '../errors.js';

export interface ComposeCliOptions {
  readonly compose?: string;
  readonly composeMethod?: string;
  readonly composeGate?: string;
  readonly shareLayers?: boolean;
  readonly loraRank?: string;
  readonly loraLayers?: string;
  readonly trainable?: string;
  readonly fromScratch?: boolean;
  readonly router?: string;
  readonly adapter?: string | readonly string[];
}

const gates = ['softmax', 'sigmoid'] as const;

/** train's flags for composing frozen adapters (ScaLearn, gated fusion). */
export function addComposeTrainingOptions(command: Command): Command {
  return command
    .option(
      '--compose <dirs>',
      'comma-separated PEFT adapter folders for this --model (each must record its base fingerprint): train only how they combine, written to --out/composition (no model/); load it with --composition',
    )
    .option(
      '--compose-method <m>',
      'with --compose: scalearn (learned scale vectors per step, projection and adapter), scalearn-uniform (one scalar per step and adapter), gated (per-token gates over the adapters, tfjs only)',
      'scalearn',
    )
    .option(
      '--share-layers',
      'with --compose: one set of scales (or gates) for all steps; with scalearn-uniform one scalar per adapter in all (ScaLearnUniform++)',
    )
    .option('--compose-gate <act>', `with --compose-method gated: ${gates.join(' (weights sum to 1) or ')} (default)`);
}

/** The composition a train run asks for, or undefined (flags checked; one-line errors name the flag). */
export function composeTraining(
  options: ComposeCliOptions,
): { readonly dirs: readonly string[]; readonly spec: CompositionSpec } | undefined {
  if (options.compose === undefined) {
    if (options.shareLayers || options.composeGate !== undefined || options.composeMethod !== 'scalearn')
      throw new UsageError('--compose-method, --share-layers and --compose-gate apply only with --compose A,B');
    return undefined;
  }
  const clash = [
    options.loraRank !== undefined && '--lora-rank',
    options.loraLayers !== undefined && '--lora-layers',
    options.fromScratch && '--from-scratch',
    options.router !== undefined && '--router',
    options.trainable !== undefined && '--trainable',
    options.adapter !== undefined && options.adapter.length > 0 && '--adapter',
  ].find(Boolean);
  if (clash) throw new UsageError(`--compose trains only how frozen adapters combine; ${clash} does not apply with it`);
  const dirs = options.compose
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (dirs.length < 2) throw new UsageError(`--compose needs at least two adapter folders, got "${options.compose}"`);
  const method = compositionMethods.find((m) => m === options.composeMethod);
  if (!method)
    throw new UsageError(
      `--compose-method must be one of ${compositionMethods.join(', ')}, got "${options.composeMethod}"`,
    );
  const gate = options.composeGate === undefined ? undefined : gates.find((g) => g === options.composeGate);
  if (options.composeGate !== undefined && (!gate || method !== 'gated'))
    throw new UsageError(`--compose-gate takes ${gates.join(' or ')} and applies to --compose-method gated only`);
  return { dirs, spec: { method, shareLayers: options.shareLayers ?? false, ...(gate && { gate }) } };
}

/** Loads the --compose adapters onto the base (refused in one line if one belongs to another base). */
export async function compositionParts(
  model: LoadedModel,
  compose: { readonly dirs: readonly string[]; readonly spec: CompositionSpec },
): Promise<CompositionTraining> {
  return { spec: compose.spec, parts: await loadParts(model, compose.dirs) };
}

export const compositionHelp =
  'a composition folder (recur train --compose … writes RUN/composition) for this --model: ScaLearn runs folded into one LoRA (fast path, exact merge); gated runs on the tfjs decoder';

/** The --json fields that say which composition ran and where. */
export function compositionFields(model: LoadedModel): { composition?: Record<string, string> } {
  const composition = model.composition;
  if (!composition) return {};
  return {
    composition: {
      dir: composition.dir,
      method: composition.method,
      runs: composition.fusion
        ? 'tfjs decoder only (gated fusion mixes the adapters per token)'
        : 'folded into one LoRA (any path)',
    },
  };
}
