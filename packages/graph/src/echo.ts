import { ConfigError, executionSteps, type DecoderConfig } from './config.js';

/**
 * EchoAtt ("EchoAtt: Attend, Copy, then Adjust for More Efficient Large Language Models", 2024,
 * arXiv 2409.14595): executed step `step` reuses step `source`'s attention probabilities instead of
 * computing its own, so it runs no q/k projections, no scores and no softmax — only its values and its
 * output projection. Steps count executed layer runs (a recursive model's (position, loop) pairs).
 */
export interface EchoReuse {
  readonly step: number;
  readonly source: number;
}

type EchoConfig = Pick<DecoderConfig, 'numLayers' | 'layerOrder' | 'echoAttention'>;

/** step → the step whose maps it reuses (empty for a model without EchoAtt). */
export function echoSources(config: EchoConfig): ReadonlyMap<number, number> {
  return new Map((config.echoAttention ?? []).map((r) => [r.step, r.source]));
}

/** Steps whose maps another step reuses (they compute and keep their probabilities). */
export function echoSourceSteps(config: EchoConfig): ReadonlySet<number> {
  return new Set((config.echoAttention ?? []).map((r) => r.source));
}

/**
 * Stored layers that never compute their own attention (every executed run of them reuses another step's
 * maps): their q/k weights are unused and are not stored. A shared layer with one computing run keeps them.
 */
export function echoOnlyLayers(config: EchoConfig): ReadonlySet<number> {
  const reusing = echoSources(config);
  if (reusing.size === 0) return new Set();
  const steps = executionSteps(config);
  const layers = new Set(steps.map((s) => s.unique));
  return new Set([...layers].filter((layer) => steps.every((s) => s.unique !== layer || reusing.has(s.step))));
}

/** Throws a ConfigError unless every reuse names an executed step after a source that computes its own maps. */
export function validateEcho(config: EchoConfig): void {
  const plan = config.echoAttention ?? [];
  const count = executionSteps(config).length;
  const seen = new Set<number>();
  const reusing = new Set(plan.map((r) => r.step));
  for (const { step, source } of plan) {
    const where = `echoAttention ${step}<-${source}`;
    if (!Number.isInteger(step) || !Number.isInteger(source) || source < 0 || step >= count)
      throw new ConfigError('echoAttention', `config: ${where}: steps must be integers in 0..${count - 1}`);
    if (source >= step)
      throw new ConfigError('echoAttention', `config: ${where}: a step can only reuse an earlier step's maps`);
    if (reusing.has(source))
      throw new ConfigError('echoAttention', `config: ${where}: step ${source} reuses maps itself; name its source`);
    if (seen.has(step)) throw new ConfigError('echoAttention', `config: ${where}: step ${step} is listed twice`);
    seen.add(step);
  }
}
