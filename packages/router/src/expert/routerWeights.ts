import { gaussianArray, linear, tf } from '@recur/tensor';

/** 'linear': d → 1; 'mlp': d → h → 1 with SiLU between (MoR, Bae et al. 2025, arXiv 2507.10524, router ablation). */
export type RouterArchitecture = 'linear' | 'mlp';

export interface ScalarRouterOptions {
  readonly hiddenSize: number;
  readonly architecture?: RouterArchitecture;
  /** Width of the MLP router's hidden layer (default hiddenSize / 4, at least 1). */
  readonly mlpHidden?: number;
  /** Normal init std (default 0.02, the usual initializer_range). */
  readonly std?: number;
  readonly seed?: number;
}

/** Checkpoint keys of one scalar router (Hugging Face [out, in] layout), under `prefix`. */
export function scalarRouterKeys(prefix: string, architecture: RouterArchitecture): string[] {
  return architecture === 'linear'
    ? [`${prefix}.weight`]
    : [`${prefix}.fc1.weight`, `${prefix}.fc1.bias`, `${prefix}.fc2.weight`];
}

/**
 * Fresh weights of one scalar router as plain arrays keyed by checkpoint name: N(0, std²) matrices,
 * zero biases, deterministic in `seed`. Turn them into tensors (or tf.Variables to train) as you like.
 */
export function initScalarRouter(
  prefix: string,
  options: ScalarRouterOptions,
): Map<string, { shape: number[]; data: Float32Array }> {
  const d = options.hiddenSize;
  const std = options.std ?? 0.02;
  const seed = options.seed ?? 0;
  const normal = (size: number, s: number): Float32Array => gaussianArray(size, s).map((x) => x * std);
  if ((options.architecture ?? 'linear') === 'linear')
    return new Map([[`${prefix}.weight`, { shape: [1, d], data: normal(d, seed) }]]);
  const h = options.mlpHidden ?? Math.max(1, Math.floor(d / 4));
  return new Map([
    [`${prefix}.fc1.weight`, { shape: [h, d], data: normal(h * d, seed) }],
    [`${prefix}.fc1.bias`, { shape: [h], data: new Float32Array(h) }],
    [`${prefix}.fc2.weight`, { shape: [1, h], data: normal(h, seed + 1) }],
  ]);
}

/** Arrays → tensors, same keys. */
export function routerTensors(
  arrays: ReadonlyMap<string, { shape: number[]; data: Float32Array }>,
): Map<string, tf.Tensor> {
  return new Map([...arrays].map(([key, { shape, data }]) => [key, tf.tensor(data, shape)]));
}

function need(params: ReadonlyMap<string, tf.Tensor>, key: string): tf.Tensor {
  const t = params.get(key);
  if (t === undefined)
    throw new RangeError(`router: no tensor '${key}' (have ${[...params.keys()].join(', ') || 'none'})`);
  return t;
}

/**
 * Raw router logits of rows h [N, d] → [N]. Row-wise: a token's logit depends on its own hidden state
 * only, which is what makes the decode-time threshold rule causal. The architecture is read from the keys.
 */
export function scalarRouterLogits(
  params: ReadonlyMap<string, tf.Tensor>,
  prefix: string,
  h: tf.Tensor2D,
): tf.Tensor1D {
  return tf.tidy(() => {
    if (params.has(`${prefix}.weight`)) {
      return tf.reshape(linear(h, need(params, `${prefix}.weight`) as tf.Tensor2D), [h.shape[0]]) as tf.Tensor1D; // [N]
    }
    const z = linear(
      h,
      need(params, `${prefix}.fc1.weight`) as tf.Tensor2D,
      need(params, `${prefix}.fc1.bias`) as tf.Tensor1D,
    ); // [N, hid]
    const a = tf.mul(z, tf.sigmoid(z)) as tf.Tensor2D; // SiLU, [N, hid]; its gradient needs only Multiply and Sigmoid
    // [N]
    return tf.reshape(linear(a, need(params, `${prefix}.fc2.weight`) as tf.Tensor2D), [h.shape[0]]) as tf.Tensor1D;
  });
}
