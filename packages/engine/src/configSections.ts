import { ConfigError } from '@recur/checkpoint';
import type { EchoSection } from './echo/withEchoAttention.js';
import type { MasaSection } from './masa.js';
import { checkLoraKindSection, checkRouterSection, withRouterDefaults, type RecurSection } from './recurConfig.js';

/** The sections of a config.json that Recur writes beside the Hugging Face fields, as `buildModel` takes them. */
export interface ConfigSections {
  readonly recur?: RecurSection;
  readonly masa?: MasaSection;
  readonly echo?: EchoSection;
}

/**
 * The `recur`, `masa` and `echo` sections of a parsed config.json, checked (router, LoRA kind, echo plan
 * shape; `file` names the file in errors) and with router defaults filled in. One reader for every
 * loader: the Node one (`loadModel`, `convert`) and the playground's folder loader.
 */
export function configSectionsOf(json: unknown, file: string): ConfigSections {
  if (typeof json !== 'object' || json === null) return {};
  const { recur, masa, echo } = json as { recur?: RecurSection; masa?: MasaSection; echo?: EchoSection };
  if (echo !== undefined && !Array.isArray(echo.reuse))
    throw new ConfigError(file, 'echo.reuse', 'must be a list of {"step", "source"} pairs');
  if (recur) {
    checkRouterSection(recur, file);
    checkLoraKindSection(recur, file);
  }
  return {
    ...(recur ? { recur: withRouterDefaults(recur) } : {}),
    ...(masa ? { masa } : {}),
    ...(echo ? { echo } : {}),
  };
}
