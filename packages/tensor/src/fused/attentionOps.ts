import { AttnParams } from './kernels/index.js';
import type { FusedRuntime } from './runtime.js';

/**
 * Causal grouped-query attention of T query rows over KV caches in the heap. Row t's cache is
 * described by 4 i32 at `rowInfo + 16·t` (RowInfo: K and V base of kv head 0, positions attended,
 * bytes between kv heads; positions are `headDim` floats apart).
 */
export interface AttentionJob {
  readonly q: number;
  readonly qStride: number;
  readonly T: number;
  readonly rowInfo: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Positions each row attends (the same numbers as in rowInfo), for the softmax. */
  readonly contexts: ArrayLike<number>;
  /** Scratch of T·heads·scoreStride/4 floats. */
  readonly scores: number;
  readonly scoreStride: number;
  readonly out: number;
  readonly outStride: number;
  readonly scale: number;
  /**
   * Leave item (t, h)'s softmax probabilities in its score row `scores + (t·heads + h)·scoreStride`
   * (an EchoAtt source step: later steps apply them to their own values with `echoValues`).
   */
  readonly keepProbabilities?: boolean;
  /**
   * attentionTiled only: leave item (t, h)'s softmax probabilities at `rows + (t·heads + h)·stride` bytes (an
   * EchoAtt source on the tiled path; `scores` stays the tile scratch). Rows ≥ each context are left as they were.
   */
  readonly kept?: { readonly rows: number; readonly stride: number } | undefined;
}

/**
 * EchoAtt's reused attention (arXiv 2409.14595): out[t, h, :] = Σ_s probs[(t, h), s]·V[s, h / group, :]
 * over each row's context, V from the row info's V base (its K base is not read): no scores, no softmax.
 */
export interface EchoValuesJob {
  readonly T: number;
  readonly rowInfo: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly contexts: ArrayLike<number>;
  /** Probability rows, item (t, h) at `probs + (t·heads + h)·probStride` (a source's kept score rows). */
  readonly probs: number;
  readonly probStride: number;
  readonly out: number;
  readonly outStride: number;
}

/** Writes the attention params of `job` at byte `p` (the shared block of attnScores, attnValues and attention). */
export function writeAttentionParams(runtime: FusedRuntime, p: number, job: AttentionJob): void {
  const i32 = runtime.i32;
  const b = p >>> 2;
  i32[b + AttnParams.Q] = job.q;
  i32[b + AttnParams.QStride] = job.qStride;
  i32[b + AttnParams.RowInfo] = job.rowInfo;
  i32[b + AttnParams.Scores] = job.scores;
  i32[b + AttnParams.ScoreStride] = job.scoreStride;
  i32[b + AttnParams.Heads] = job.heads;
  i32[b + AttnParams.Group] = job.heads / job.kvHeads;
  i32[b + AttnParams.HeadBytes] = job.headDim * 4;
  runtime.f32[b + AttnParams.Scale] = job.scale;
  i32[b + AttnParams.Out] = job.out;
  i32[b + AttnParams.OutStride] = job.outStride;
  i32[b + AttnParams.KeepProbs] = job.keepProbabilities ? 1 : 0;
  i32[b + AttnParams.Kept] = job.kept?.rows ?? 0;
  i32[b + AttnParams.KeptStride] = job.kept?.stride ?? 0;
}

/** The echo job as attnValues params: the probabilities stand where that kernel reads its scores. */
export function echoAsAttention(job: EchoValuesJob): AttentionJob {
  return {
    q: 0,
    qStride: 0,
    T: job.T,
    rowInfo: job.rowInfo,
    heads: job.heads,
    kvHeads: job.kvHeads,
    headDim: job.headDim,
    contexts: job.contexts,
    scores: job.probs,
    scoreStride: job.probStride,
    out: job.out,
    outStride: job.outStride,
    scale: 1,
  };
}

/** Multiply-adds of one pass over the rows' contexts (heads · context · headDim per row). */
export function attentionWork(job: Pick<AttentionJob, 'T' | 'heads' | 'headDim' | 'contexts'>): number {
  let work = 0;
  for (let t = 0; t < job.T; t++) work += job.heads * (job.contexts[t] ?? 0) * job.headDim;
  return work;
}

/** Row-wise softmax of the score rows in place with Math.exp (the separate-softmax cross-check). */
export function softmaxRows(f32: Float32Array, job: AttentionJob): void {
  const stride = job.scoreStride >>> 2;
  for (let t = 0; t < job.T; t++) {
    const n = job.contexts[t] ?? 0;
    for (let h = 0; h < job.heads; h++) {
      const base = (job.scores >>> 2) + (t * job.heads + h) * stride;
      let max = -Infinity;
      for (let s = 0; s < n; s++) max = Math.max(max, f32[base + s]!);
      let sum = 0;
      for (let s = 0; s < n; s++) {
        const e = Math.exp(f32[base + s]! - max);
        f32[base + s] = e;
        sum += e;
      }
      const inv = 1 / sum;
      for (let s = 0; s < n; s++) f32[base + s]! *= inv;
    }
  }
}
