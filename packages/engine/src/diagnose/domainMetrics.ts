import { adaptedModules, type LayerCall } from '@recur/graph';
import { tf } from '@recur/tensor';
import { probedNorms, probeKey } from './probeAdapter.js';
import { weightGradient, windowGradients, type DiagnosticPass, type WindowGradients } from './windowGradients.js';

/** The three gradient/attention metrics of one data set, per executed step and per stored layer. */
export interface DomainMetrics {
  readonly windows: number;
  /** Target tokens scored. */
  readonly tokens: number;
  /** Mean next-token loss over windows. */
  readonly loss: number;
  /** Per step: mean attention entropy (nats) over windows. */
  readonly attentionEntropy: number[];
  /** Per step: root-mean-square over windows of ‖∂L/∂h_s‖ (L: the window's mean loss). */
  readonly activationGradNorm: number[];
  /** Per step: RMS over windows of ‖∂L/∂θ_s‖, θ_s = the step's effective weights (7 projections, biases, 2 norms). */
  readonly paramGradNorm: number[];
  /** Per stored layer: RMS over windows of the norm of that layer's weight gradient (the sum over its steps). */
  readonly layerParamGradNorm: number[];
  /** [step][step]: mean over windows of the pairwise attention-map similarity (1 − JS in bits, see tensor's attentionMapSimilarity). */
  readonly attentionSimilarity: number[][];
  /** Per step: h_s rows [rows, d] (the first `maxRows` tokens), for ΔCKA. */
  readonly hidden: Float32Array[];
}

export interface DomainOptions {
  /** Hidden-state rows kept per step for ΔCKA. */
  readonly maxRows: number;
  readonly onWindow?: () => void;
}

/** Runs every window forward and backward once and reduces it to the metrics (see DomainMetrics). */
export async function domainMetrics(
  pass: DiagnosticPass,
  windows: readonly (readonly number[])[],
  options: DomainOptions,
): Promise<DomainMetrics> {
  const { steps } = pass;
  const numLayers = pass.decoder.config.numLayers;
  const sums = {
    entropy: new Float64Array(steps.length),
    act: new Float64Array(steps.length),
    param: new Float64Array(steps.length),
    layer: new Float64Array(numLayers),
    similarity: steps.map(() => new Float64Array(steps.length)),
  };
  const rows = new HiddenRows(steps.length, pass.decoder.config.hiddenSize, options.maxRows);
  let loss = 0;
  let tokens = 0;
  for (const ids of windows) {
    const window = await windowGradients(pass, ids);
    try {
      loss += window.loss;
      tokens += ids.length - 1;
      for (const e of window.entropies) sums.entropy[e.step] = (sums.entropy[e.step] as number) + e.entropy;
      window.attentionSimilarity.forEach((row, a) => addInto(sums.similarity[a]!, row));
      addInto(sums.act, await squaredNorms(window.activationGrads));
      const { perStep, perLayer } = await parameterSquares(pass, window);
      addInto(sums.param, perStep);
      addInto(sums.layer, perLayer);
      for (const [s, h] of window.hidden.entries()) rows.add(s, await h.data());
    } finally {
      window.dispose();
    }
    options.onWindow?.();
  }
  const n = windows.length;
  const rms = (sum: Float64Array) => Array.from(sum, (v) => Math.sqrt(v / n));
  return {
    windows: n,
    tokens,
    loss: loss / n,
    attentionEntropy: Array.from(sums.entropy, (v) => v / n),
    activationGradNorm: rms(sums.act),
    paramGradNorm: rms(sums.param),
    layerParamGradNorm: rms(sums.layer),
    attentionSimilarity: sums.similarity.map((row) => Array.from(row, (v) => v / n)),
    hidden: rows.arrays(),
  };
}

/**
 * Squared gradient norms of every step's effective weights, and of every stored layer's weights
 * (the sum of its steps' gradients: what training a shared layer sees).
 */
async function parameterSquares(
  pass: DiagnosticPass,
  window: WindowGradients,
): Promise<{ perStep: Float64Array; perLayer: Float64Array }> {
  const perStep = new Float64Array(pass.steps.length);
  const perLayer = new Float64Array(pass.decoder.config.numLayers);
  const byLayer = [...groupBy(pass.steps, (s) => s.unique)];
  const names = [...adaptedModules, ...probedNorms];
  // one read for the whole window: [layers × names × (its steps + 1)] squares, in that order
  const squares = tf.tidy(() =>
    tf.concat(
      byLayer.flatMap(([, calls]) =>
        names.map((name) => {
          const grads = calls.map((call) => stepGradients(pass, window, call, name)); // per step: this parameter's tensors
          const total = grads.slice(1).reduce((acc, g) => acc.map((t, i) => tf.add(t, g[i] as tf.Tensor)), grads[0]!);
          return tf.stack([...grads.map(sumOfSquares), sumOfSquares(total)]); // [steps + 1]
        }),
      ),
    ),
  );
  const values = await squares.data();
  squares.dispose();
  let at = 0;
  for (const [layer, calls] of byLayer) {
    for (let n = 0; n < names.length; n++) {
      for (const call of calls) perStep[call.step] = (perStep[call.step] as number) + (values[at++] as number);
      perLayer[layer] = (perLayer[layer] as number) + (values[at++] as number);
    }
  }
  return { perStep, perLayer };
}

/** The gradient tensors of one parameter group (a projection's weight and bias, or a norm weight) at one step. */
function stepGradients(pass: DiagnosticPass, window: WindowGradients, call: LayerCall, name: string): tf.Tensor[] {
  const module = adaptedModules.find((m) => m === name);
  if (!module) return [window.probeGrads.get(probeKey(call.step, name as (typeof probedNorms)[number])) as tf.Tensor];
  const { weight, bias } = weightGradient(window, pass, call, module);
  return bias ? [weight, bias] : [weight];
}

function sumOfSquares(tensors: readonly tf.Tensor[]): tf.Scalar {
  return tf.addN(tensors.map((t) => tf.sum(tf.square(t)))) as tf.Scalar;
}

async function squaredNorms(tensors: readonly tf.Tensor[]): Promise<Float32Array> {
  const stacked = tf.tidy(() => tf.stack(tensors.map((t) => tf.sum(tf.square(t)))));
  try {
    return (await stacked.data()) as Float32Array;
  } finally {
    stacked.dispose();
  }
}

function addInto(sum: Float64Array, values: ArrayLike<number>): void {
  for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (values[i] as number);
}

function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) out.set(key(item), [...(out.get(key(item)) ?? []), item]);
  return out;
}

/** The first `maxRows` rows of each step's hidden states, across windows. */
class HiddenRows {
  private readonly chunks: Float32Array[][];
  private readonly counts: number[];

  constructor(
    steps: number,
    private readonly dim: number,
    private readonly maxRows: number,
  ) {
    this.chunks = Array.from({ length: steps }, () => []);
    this.counts = new Array<number>(steps).fill(0);
  }

  add(step: number, data: ArrayLike<number>): void {
    const room = this.maxRows - (this.counts[step] as number);
    const take = Math.min(room, data.length / this.dim);
    if (take <= 0) return;
    this.chunks[step]!.push(Float32Array.from({ length: take * this.dim }, (_, i) => data[i] as number));
    this.counts[step] = (this.counts[step] as number) + take;
  }

  arrays(): Float32Array[] {
    return this.chunks.map((chunks) => {
      const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
      let offset = 0;
      for (const c of chunks) {
        out.set(c, offset);
        offset += c.length;
      }
      return out;
    });
  }
}
