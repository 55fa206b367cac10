import { forwardFlops, type Decoder, type DecoderConfig, type FastDecoder } from '@recur/graph';
import type { tf } from '@recur/tensor';
import { benchmarkFastForward, type RoutedBench } from './benchFast.js';

export interface ForwardBenchOptions {
  readonly prefillTokens: number;
  readonly decodeTokens: number;
  /** Prefill repetitions after one warm-up; the best is reported. */
  readonly repeats?: number;
  /** Time this FastDecoder (built over the decoder's weights) instead of the tfjs decoder. */
  readonly fast?: FastDecoder;
  /** With `fast`: run a router model's routing (prefill and decode tokens routed) instead of full depth. */
  readonly routed?: RoutedBench;
}

export interface ForwardBenchResult {
  readonly prefillTokensPerSecond: number;
  readonly prefillGflops: number;
  readonly decodeTokensPerSecond: number;
  readonly decodeMsPerToken: number;
  /**
   * Tokens per CPU-second of this process (every thread, process.cpuUsage): robust to other load on a
   * shared machine where wall time is not (with one compute thread it is the single-core speed).
   * Absent where there is no process CPU clock (browsers).
   */
  readonly prefillTokensPerCpuSecond?: number;
  readonly decodeTokensPerCpuSecond?: number;
  /** Routed runs: mean loops per token over the first prefill and the decode steps. */
  readonly averageDepth?: number;
}

/** One executor under the bench protocol: a prefill on a fresh cache, and a cached session for decode steps. */
export interface BenchRunner {
  prefill(ids: readonly number[]): Promise<void>;
  session(): { step(ids: readonly number[]): Promise<void>; dispose(): void };
}

/** Times a batch-1 prefill of random ids, then cached decode steps (logits read back each step, as generation does). */
export async function benchmarkForward(decoder: Decoder, options: ForwardBenchOptions): Promise<ForwardBenchResult> {
  if (options.fast) return benchmarkFastForward(options.fast, options);
  if (options.routed) throw new RangeError('benchmarkForward: a routed run needs the fast path (options.fast)');
  const readBack = async (logits: tf.Tensor): Promise<void> => {
    await logits.data();
    logits.dispose();
  };
  return timeBench(decoder.config, options, {
    prefill: (ids) => readBack(decoder.forward(ids, { lastOnly: true })),
    session: () => {
      const cache = decoder.newCache();
      return {
        step: (ids) => readBack(decoder.forward(ids, { cache, lastOnly: true })),
        dispose: () => cache.dispose(),
      };
    },
  });
}

/**
 * The protocol every executor is timed by: the best prefill of `repeats` after one warm-up, then a
 * session primed with the same prompt and `decodeTokens` single-token steps.
 */
export async function timeBench(
  config: DecoderConfig,
  options: ForwardBenchOptions,
  runner: BenchRunner,
): Promise<ForwardBenchResult> {
  const { prefillTokens, decodeTokens } = options;
  const ids = Array.from({ length: prefillTokens }, (_, i) => (i * 7919 + 13) % config.vocabSize);
  let [bestPrefill, bestPrefillCpu] = [Infinity, Infinity];
  for (let r = 0; r < 1 + (options.repeats ?? 2); r++) {
    const [start, cpu] = [performance.now(), cpuSeconds()];
    await runner.prefill(ids);
    if (r > 0) bestPrefill = Math.min(bestPrefill, performance.now() - start);
    if (r > 0) bestPrefillCpu = Math.min(bestPrefillCpu, cpuSeconds() - cpu);
  }
  const session = runner.session();
  await session.step(ids);
  const [start, cpu] = [performance.now(), cpuSeconds()];
  for (let i = 0; i < decodeTokens; i++) await session.step([ids[i % ids.length]!]);
  const [decodeMs, decodeCpu] = [performance.now() - start, cpuSeconds() - cpu];
  session.dispose();
  return {
    prefillTokensPerSecond: prefillTokens / (bestPrefill / 1000),
    prefillGflops: forwardFlops(config, prefillTokens, { logitRows: 1 }) / (bestPrefill / 1000) / 1e9,
    decodeTokensPerSecond: decodeTokens / (decodeMs / 1000),
    decodeMsPerToken: decodeMs / decodeTokens,
    ...(hasCpuClock() && {
      prefillTokensPerCpuSecond: prefillTokens / bestPrefillCpu,
      decodeTokensPerCpuSecond: decodeTokens / decodeCpu,
    }),
  };
}

const hasCpuClock = (): boolean => typeof process !== 'undefined' && typeof process.cpuUsage === 'function';

/** User + system CPU time of this process, all threads, in seconds (0 without a CPU clock). */
function cpuSeconds(): number {
  if (!hasCpuClock()) return 0;
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}
