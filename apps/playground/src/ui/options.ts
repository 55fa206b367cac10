import type { ConvertOptions } from '@recur/engine';
import { initStrategies, sharingStrategies, type InitStrategy, type SharingStrategy } from '@recur/graph';
import { byId } from './dom.js';

/** Fills the strategy and init selects from the graph's own lists. */
export function fillConvertChoices(): void {
  fill(byId('strategy', HTMLSelectElement), sharingStrategies, 'middle-cycle');
  fill(byId('init', HTMLSelectElement), initStrategies, 'average');
}

function fill(select: HTMLSelectElement, values: readonly string[], chosen: string): void {
  select.replaceChildren(...values.map((v) => new Option(v, v, v === chosen, v === chosen)));
}

/** The convert form as engine options; throws a readable error for a bad field. */
export function convertOptions(onProgress: (done: number, total: number) => void): ConvertOptions {
  const loops = Number(byId('loops', HTMLInputElement).value);
  if (!Number.isInteger(loops) || loops < 1)
    throw new RangeError(`loops must be a whole number ≥ 1, got "${byId('loops', HTMLInputElement).value}"`);
  const norms = byId('norms', HTMLSelectElement).value === 'per-loop' ? 'per-loop' : 'tied';
  return {
    strategy: byId('strategy', HTMLSelectElement).value as SharingStrategy,
    init: byId('init', HTMLSelectElement).value as InitStrategy,
    loops,
    norms,
    loraInit: 'svd',
    ranks: { attention: rank('rank-attn'), mlp: rank('rank-mlp') },
    onProgress,
  };
}

function rank(id: string): number | 'full' {
  const text = byId(id, HTMLInputElement).value.trim();
  if (text === 'full') return 'full';
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0)
    throw new RangeError(`LoRA rank must be a whole number ≥ 0 or "full", got "${text}"`);
  return value;
}

/** A number field, checked against its range. */
export function numberField(id: string, min: number, max: number): number {
  const input = byId(id, HTMLInputElement);
  const value = Number(input.value);
  if (!Number.isFinite(value) || value < min || value > max)
    throw new RangeError(
      `${input.labels?.[0]?.textContent?.trim() ?? id} must be between ${min} and ${max}, got "${input.value}"`,
    );
  return value;
}
