import { Decoder, layerKey, type AdaptedModule, type LayerAdapter, type LayerCall, type NormName } from '@recur/graph';
import { tf } from '@recur/tensor';

/** One linear's input hypercube: per input unit, the least and greatest value seen. */
export interface UnitInterval {
  readonly lower: Float32Array;
  readonly upper: Float32Array;
}

/**
 * Activation intervals of a domain, by the weight key of the linear they feed
 * (`model.layers.3.mlp.down_proj.weight`): the box InTAct keeps that linear's function in.
 */
export interface ActivationIntervals {
  readonly intervals: ReadonlyMap<string, UnitInterval>;
  /** Windows and tokens the intervals were recorded on. */
  readonly windows: number;
  readonly tokens: number;
}

/**
 * A LayerAdapter that records, per stored layer and projection, the per-unit min and max of the
 * projection's input x [T, in] over every step that runs the layer (all loops of a shared layer: one
 * hypercube per stored weight, since the weight is what training changes), then defers to `inner`.
 */
export class IntervalRecorder implements LayerAdapter {
  private readonly bounds = new Map<string, { lower: tf.Tensor1D; upper: tf.Tensor1D }>();

  constructor(private readonly inner: LayerAdapter | undefined) {}

  adapt(module: AdaptedModule, call: LayerCall, x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D {
    const key = layerKey(call.unique, `${module}.weight`);
    const seen = this.bounds.get(key);
    const lower = tf.keep(seen ? tf.minimum(seen.lower, tf.min(x, 0)) : tf.min(x, 0)) as tf.Tensor1D; // [in]
    const upper = tf.keep(seen ? tf.maximum(seen.upper, tf.max(x, 0)) : tf.max(x, 0)) as tf.Tensor1D; // [in]
    if (seen) tf.dispose([seen.lower, seen.upper]);
    this.bounds.set(key, { lower, upper });
    return this.inner ? this.inner.adapt(module, call, x, y) : y;
  }

  norm(name: NormName, call: LayerCall): tf.Tensor1D | undefined {
    return this.inner?.norm?.(name, call);
  }

  /** The intervals recorded so far, read out, and the recorder's tensors freed. */
  take(): Map<string, UnitInterval> {
    const out = new Map<string, UnitInterval>();
    for (const [key, { lower, upper }] of this.bounds)
      out.set(key, { lower: lower.dataSync() as Float32Array, upper: upper.dataSync() as Float32Array });
    for (const { lower, upper } of this.bounds.values()) tf.dispose([lower, upper]);
    this.bounds.clear();
    return out;
  }
}

/**
 * Runs `model` (the tfjs executor, over its own weights, with `adapter`: the model's LoRA or none) over `windows` of token ids and records
 * the activation interval of every stored layer's projections ("InTAct", arXiv 2511.17439: the
 * hypercube the earlier domain's activations lie in; here the exact min/max, not a quantile).
 */
export function recordIntervals(
  model: Decoder,
  adapter: LayerAdapter | undefined,
  windows: readonly Int32Array[],
): ActivationIntervals {
  if (windows.length === 0) throw new RangeError('recording activation intervals needs at least one window of tokens');
  const recorder = new IntervalRecorder(adapter);
  // Shares the model's weight tensors (never dispose this decoder).
  const decoder = new Decoder(model.config, model.weights, { adapter: recorder });
  let tokens = 0;
  try {
    for (const window of windows) {
      tf.tidy(() => {
        decoder.forward(window, { lastOnly: true });
      });
      tokens += window.length;
    }
    const intervals = recorder.take();
    for (const [key, { lower, upper }] of intervals)
      for (let i = 0; i < lower.length; i++)
        if (!Number.isFinite(lower[i]!) || !Number.isFinite(upper[i]!))
          throw new RangeError(`activation interval of ${key} is not finite at unit ${i}`);
    return { intervals, windows: windows.length, tokens };
  } catch (error) {
    recorder.take();
    throw error;
  }
}
