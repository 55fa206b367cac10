import type { DepthwiseLora, LoadedModel } from '@recur/engine';
import { adapterTarget, loadPeftAdapter } from '@recur/engine/node';
import { UsageError } from '../errors.js';

/** serve's --adapter values split: NAME=DIR is a per-request adapter, a bare DIR joins the base for every request. */
export interface ServeAdapterFlags {
  readonly base: readonly string[];
  readonly named: readonly { readonly name: string; readonly dir: string }[];
}

const NAMED = /^([A-Za-z0-9][\w.:-]*)=(.+)$/;

export function serveAdapterFlags(values: readonly string[] | undefined, modelName?: string): ServeAdapterFlags {
  const base: string[] = [];
  const named: { name: string; dir: string }[] = [];
  for (const value of values ?? []) {
    const match = NAMED.exec(value);
    if (!match) {
      base.push(value);
      continue;
    }
    const [, name, dir] = match as unknown as [string, string, string];
    if (named.some((n) => n.name === name))
      throw new UsageError(`--adapter ${name}=…: the name ${name} is given twice`);
    if (name === modelName)
      throw new UsageError(`--adapter ${name}=…: ${name} is the base model's own id (--name); pick another name`);
    named.push({ name, dir });
  }
  return { base, named };
}

/** Loads the named adapters for `model` (each checked to fit it and, where it records one, its base fingerprint). */
export async function loadServeAdapters(model: LoadedModel, flags: ServeAdapterFlags): Promise<DepthwiseLora[]> {
  const loaded: DepthwiseLora[] = [];
  const target = adapterTarget(model);
  try {
    for (const { dir } of flags.named) loaded.push(await loadPeftAdapter(dir, target));
    return loaded;
  } catch (error) {
    for (const lora of loaded) lora.dispose();
    throw error;
  }
}
