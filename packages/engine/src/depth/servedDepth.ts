import type { DepthKvMode } from '@recur/graph';
import type { ExitPolicy } from '@recur/router';
import { fusedLoops } from './depthRunner.js';
import type { LoadedModel } from '../model.js';
import type { SamplingOptions } from '../sampling.js';
import { createServingEngine } from '../serve/servingEngine.js';

export interface ServedDepthRequest {
  readonly promptIds: readonly number[];
  readonly maxNewTokens: number;
  readonly sampling: SamplingOptions;
  readonly seed: number;
  readonly stopAtEos: boolean;
  readonly policy: ExitPolicy;
  readonly kvMode: 'copy' | 'shared';
  /** Each generated token (EOS excluded when stopping at it) with the loops its position ran. */
  readonly onToken: (id: number, depth: number) => void;
}

/**
 * Whether an early-exit policy can run on the fused kernels: the serving engine does confidence
 * exits with copy/shared KV, over a model whose fused loop structure matches the tfjs decoder's.
 */
export async function servableDepth(model: LoadedModel, kvMode: DepthKvMode): Promise<'copy' | 'shared' | undefined> {
  if (kvMode !== 'copy' && kvMode !== 'shared') return undefined; // recursion-wise with confidence exits stays on the tfjs runner (its equivalence is tested for routers only)
  return (await fusedLoops(model)) ? kvMode : undefined;
}

/** One request through a one-off serving engine (the same sampler and seed as generate's tfjs path). */
export async function servedDepthTokens(
  model: LoadedModel,
  request: ServedDepthRequest,
): Promise<{ firstTokenMs: number; totalMs: number }> {
  const engine = await createServingEngine(model, { exit: request.policy, kvMode: request.kvMode });
  try {
    const { temperature, topK, topP } = request.sampling;
    const result = await engine.submit(
      {
        promptIds: request.promptIds,
        maxNewTokens: request.maxNewTokens,
        stopAtEos: request.stopAtEos,
        sampling: { temperature, topK, topP, seed: request.seed },
      },
      { onToken: request.onToken },
    );
    return { firstTokenMs: result.firstTokenMs, totalMs: result.totalMs };
  } finally {
    engine.dispose();
  }
}
