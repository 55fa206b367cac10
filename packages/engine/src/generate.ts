import type { DepthKvMode } from '@recur/graph';
import type { ExitPolicy } from '@recur/router';
import { depthRunner, fastRouterRunner } from './depth/depthRunner.js';
import { defaultKvMode, exitRouting, type ExitRule } from './depth/exitRule.js';
import { servableDepth, servedDepthTokens } from './depth/servedDepth.js';
import { tokenRunner, type TokenRunner } from './fast.js';
import type { LoadedModel } from './model.js';
import { Mulberry32 as SeededRandom } from '@recur/tensor';
import { greedySampling, sampleToken, type SamplingOptions } from './sampling.js';
import { validateSampling } from './samplingRules.js';
import { TextStream } from './text.js';

export interface GenerateOptions extends Partial<SamplingOptions> {
  /** Text to continue; BOS is added. */
  readonly prompt: string;
  /** Exact prompt ids (BOS included) instead of tokenizing `prompt`. */
  readonly promptIds?: readonly number[];
  readonly maxNewTokens: number;
  readonly seed?: number;
  /** Stop at the end-of-sequence token (default true). */
  readonly stopAtEos?: boolean;
  /** Receives each piece of text as soon as it is complete. */
  readonly onText?: (delta: string) => void;
  /**
   * Which decoder runs. Default: the FastDecoder (fused kernels) whenever the model allows it, else
   * the tfjs decoder. true: the same, warning when it falls back. false: the tfjs decoder.
   */
  readonly fast?: boolean;
  /**
   * Per-token depth. Router rules route every token, the prompt included; confidence rules run the
   * prompt at full depth and route each generated token. Both run on the fused kernels where the
   * model allows it (unless `fast: false`), else on tfjs. Default: a model trained with a MoR router
   * runs its router (without it the loops compute another function than the one trained); others full depth.
   */
  readonly exit?: ExitRule;
  /** Every token runs every loop, also on a router model (the CLI's `--exit none`). */
  readonly fullDepth?: boolean;
  /** What deeper loops see of tokens that left early (default: 'copy', or what the router was trained with). */
  readonly kvMode?: DepthKvMode;
}

export interface GenerateResult {
  /** Prompt token ids, BOS included. */
  readonly promptIds: number[];
  /** Generated token ids only. */
  readonly ids: number[];
  /** Generated text: the continuation of the prompt, leading space kept. */
  readonly text: string;
  readonly timings: { readonly prefillMs: number; readonly decodeMs: number };
  /** Which decoder ran: the fused fast path or the tfjs Decoder. */
  readonly path: 'fast' | 'tfjs';
  /**
   * With `exit`: loops run by the position whose logits chose each
   * generated token (the first is the prompt's last, full depth).
   */
  readonly depths?: number[];
}

/** Prefill the prompt once, then decode one token at a time through the KV cache. */
export async function generate(model: LoadedModel, request: GenerateOptions): Promise<GenerateResult> {
  const { tokenizer } = model;
  if (request.fullDepth && request.exit)
    throw new RangeError('generate: fullDepth and an exit rule exclude each other');
  const exit = request.exit ?? (request.fullDepth ? undefined : trainedRouting(model));
  const options: GenerateOptions = { ...request, ...(exit && { exit }) };
  validateSampling({ temperature: options.temperature, topK: options.topK, topP: options.topP, seed: options.seed });
  const sampling: SamplingOptions = { ...greedySampling, ...definedOnly(options) };
  const random = new SeededRandom(options.seed ?? 0);
  const promptIds = options.promptIds ? [...options.promptIds] : tokenizer.encode(options.prompt, { addBos: true });
  const room = model.config.maxPositionEmbeddings - promptIds.length;
  if (room < 0)
    throw new RangeError(
      `prompt has ${promptIds.length} tokens; the model's context is ${model.config.maxPositionEmbeddings}`,
    );
  const maxNew = Math.min(options.maxNewTokens, room);
  const stream = new TextStream((ids) => tokenizer.decode(ids), tokenizer.decode(promptIds));
  const ids: number[] = [];
  const depths: number[] = [];
  const served = await servedDepthRun(model, options, maxNew);
  if (served) {
    const onToken = (id: number, depth: number): void => {
      ids.push(id);
      depths.push(depth);
      const delta = stream.push([...promptIds, ...ids]);
      if (delta) options.onText?.(delta);
    };
    const { firstTokenMs, totalMs } = await servedDepthTokens(model, {
      promptIds,
      maxNewTokens: maxNew,
      sampling,
      seed: options.seed ?? 0,
      stopAtEos: options.stopAtEos !== false,
      policy: served.policy,
      kvMode: served.kvMode,
      onToken,
    });
    const tail = stream.push([...promptIds, ...ids], true);
    if (tail) options.onText?.(tail);
    return {
      promptIds,
      ids,
      text: stream.text,
      timings: { prefillMs: firstTokenMs, decodeMs: totalMs - firstTokenMs },
      path: 'fast',
      depths,
    };
  }
  const runner = options.exit
    ? await routedRunner(model, options, promptIds.length + maxNew, depths)
    : await tokenRunner(model, options.fast, promptIds.length + maxNew);
  const started = performance.now();
  let prefillMs = 0;
  try {
    let input = promptIds;
    while (ids.length < maxNew) {
      const next = sampleToken(await runner.next(input), sampling, random);
      if (ids.length === 0) prefillMs = performance.now() - started;
      if (next === tokenizer.eosId && options.stopAtEos !== false) break;
      ids.push(next);
      const delta = stream.push([...promptIds, ...ids]);
      if (delta) options.onText?.(delta);
      input = [next];
    }
  } finally {
    runner.dispose();
  }
  const tail = stream.push([...promptIds, ...ids], true);
  if (tail) options.onText?.(tail);
  const timings = { prefillMs, decodeMs: performance.now() - started - prefillMs };
  return {
    promptIds,
    ids,
    text: stream.text,
    timings,
    path: runner.path,
    ...(options.exit && { depths: depths.slice(0, ids.length) }),
  };
}

/** A router model's own routing (its rule without overrides), or undefined for a model without one. */
export function trainedRouting(model: LoadedModel): ExitRule | undefined {
  return model.recur?.router && model.routerParams ? { kind: 'router' } : undefined;
}

/** An early-exit policy that the serving engine's fused kernels can run for this model (validated as the tfjs path does), else undefined. */
async function servedDepthRun(
  model: LoadedModel,
  options: GenerateOptions,
  maxNew: number,
): Promise<{ policy: ExitPolicy; kvMode: 'copy' | 'shared' } | undefined> {
  const rule = options.exit;
  if (rule?.kind !== 'policy' || options.fast === false || maxNew < 1) return undefined;
  exitRouting(model, rule); // the tfjs path's refusals (one loop, a depth the model lacks) come first
  const kvMode = await servableDepth(model, options.kvMode ?? defaultKvMode(model, rule));
  return kvMode && { policy: rule.policy, kvMode };
}

/**
 * A TokenRunner over per-token depth that records each call's depth: router rules on the fused
 * kernels unless `fast: false` (or the model has none), else tfjs.
 */
async function routedRunner(
  model: LoadedModel,
  options: GenerateOptions,
  capacity: number,
  depths: number[],
): Promise<TokenRunner> {
  const rule = options.exit!;
  const kvMode = options.kvMode ?? defaultKvMode(model, rule);
  const fast = options.fast !== false ? await fastRouterRunner(model, rule, kvMode, capacity) : undefined;
  if (!fast && options.fast === true && rule.kind === 'router')
    console.warn('recur: fast path unavailable for this model; routing on the tfjs decoder');
  const runner = fast ?? depthRunner(model, rule, kvMode);
  return {
    path: runner.path,
    next: async (input) => {
      const { logits, depth } = runner.next(input);
      depths.push(depth);
      return logits;
    },
    dispose: () => runner.dispose(),
  };
}

function definedOnly(options: Partial<SamplingOptions>): Partial<SamplingOptions> {
  const out: { -readonly [K in keyof SamplingOptions]?: number } = {};
  if (options.temperature !== undefined) out.temperature = options.temperature;
  if (options.topK !== undefined) out.topK = options.topK;
  if (options.topP !== undefined) out.topP = options.topP;
  return out;
}
