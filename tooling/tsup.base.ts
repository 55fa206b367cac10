import type { Options } from 'tsup';

/** Every package builds the same way: ESM, typed, one entry per public path. */
export function packageBuild(entry: Record<string, string>): Options {
  return { entry, format: ['esm'], dts: true, sourcemap: true, clean: true, target: 'node20', splitting: false };
}
