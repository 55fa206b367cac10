import type { Command } from 'commander';
import { disposeModel, DomainError, parseEnds, type LoadedModel } from '@recur/engine';
import { UsageError } from '../errors.js';

/** --domain for commands that load a model (Uni-X per-domain ends, arXiv 2509.24365). */
export const domainFlag = '--domain <name>';
export const domainHelp =
  "models converted with --ends per-domain:NAMES: run this domain's first and last layers (default: the domain saved active)";

/** convert's --ends flag. */
export function addEndsOption(command: Command): Command {
  return command.option(
    '--ends <spec>',
    'per-domain:NAME,NAME… — with --strategy middle-cycle: a copy of the unshared first and last layers per domain (Uni-X), chosen later with --domain',
  );
}

/** The domain names of --ends, checked against the strategy (one-line errors name the flag). */
export function endsNames(ends: string | undefined, strategy: string): string[] | undefined {
  if (ends === undefined) return undefined;
  if (strategy !== 'middle-cycle')
    throw new UsageError(`--ends per-domain needs --strategy middle-cycle (unshared ends), not ${strategy}`);
  try {
    return parseEnds(ends);
  } catch (error) {
    if (error instanceof DomainError) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * Export writes one model: a model with per-domain ends needs --domain NAME (the torch folder cannot carry
 * the ends yet). The model is freed when refused.
 */
export function checkDomainExport(model: LoadedModel, domain: string | undefined, torch: boolean): void {
  const ends = model.domain?.section;
  if (!ends) return;
  const problem = torch
    ? `--torch does not carry per-domain ends (${ends.domains.join(', ')}) yet; export one domain as a Hugging Face folder with --domain NAME`
    : domain === undefined
      ? `the model has per-domain ends (${ends.domains.join(', ')}): export one of them with --domain NAME`
      : undefined;
  if (!problem) return;
  disposeModel(model);
  throw new UsageError(problem);
}
