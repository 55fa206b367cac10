import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DepthwiseLora, LoadedModel } from '@recur/engine';
import {
  adapterTarget,
  COMPOSITION_FILE,
  DVPT_CONFIG,
  loadCompositionLora,
  loadPeftAdapter,
  readCompositionRecord,
} from '@recur/engine/node';
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

/**
 * Loads the named adapters for `model` (each checked to fit it and, where it records one, its base fingerprint).
 * A ScaLearn composition folder is folded into the one LoRA it equals and served like any adapter; a gated
 * composition or a DVPT folder is refused, since its update depends on each token's hidden state and the fused
 * kernels apply fixed LoRA factors only.
 */
export async function loadServeAdapters(model: LoadedModel, flags: ServeAdapterFlags): Promise<DepthwiseLora[]> {
  const loaded: DepthwiseLora[] = [];
  const target = adapterTarget(model);
  try {
    for (const { name, dir } of flags.named) {
      if (existsSync(join(dir, DVPT_CONFIG)))
        throw new UsageError(
          `--adapter ${name}=${dir}: a DVPT folder is not served — its prompts attend to each request's tokens (input-dependent), and the serving kernels apply fixed LoRA factors only (use generate/eval --dvpt)`,
        );
      if (existsSync(join(dir, COMPOSITION_FILE))) loaded.push(await compositionAdapter(model, name, dir));
      else loaded.push(await loadPeftAdapter(dir, target));
    }
    return loaded;
  } catch (error) {
    for (const lora of loaded) lora.dispose();
    throw error;
  }
}

/** A composition folder as one served LoRA (ScaLearn folds exactly); gated fusion refused in one line. */
async function compositionAdapter(model: LoadedModel, name: string, dir: string): Promise<DepthwiseLora> {
  const record = await readCompositionRecord(dir);
  if (record.method === 'gated')
    throw new UsageError(
      `--adapter ${name}=${dir}: a gated composition is not served — its gates mix the adapters per token (input-dependent), so it folds into no one LoRA for the fused kernels (use generate/eval --composition); ScaLearn compositions are served`,
    );
  return loadCompositionLora(model, dir);
}
