import {
  AttentionMapRecorder,
  Decoder,
  EntropyRecorder,
  executionSteps,
  layerKey,
  type AdaptedModule,
  type AttentionCache,
  type LayerAdapter,
  type LayerCall,
  type StepEntropy,
} from '@recur/graph';
import { crossEntropy, tf, withBuiltinKernels } from '@recur/tensor';
import { registerGradients } from '@recur/train';
import { ProbeAdapter, probeKey, zeroProbes } from './probeAdapter.js';

/** A decoder wired for diagnostics: the model's weights, its adapter wrapped by a ProbeAdapter. */
export interface DiagnosticPass {
  readonly decoder: Decoder;
  readonly probe: ProbeAdapter;
  readonly steps: readonly LayerCall[];
}

/**
 * The pass over `decoder`'s own weight tensors (shared, not copied: dispose the original decoder,
 * never this one). `adapter` is what the model runs with (its LoRA), or none.
 */
export function diagnosticPass(decoder: Decoder, adapter: LayerAdapter | undefined): DiagnosticPass {
  registerGradients();
  const probe = new ProbeAdapter(decoder.weights, adapter);
  return {
    decoder: new Decoder(decoder.config, decoder.weights, { adapter: probe }),
    probe,
    steps: executionSteps(decoder.config),
  };
}

/** One window's loss, its gradients at every step and what the metrics read besides (caller disposes). */
export interface WindowGradients {
  /** Mean next-token cross-entropy of the window. */
  readonly loss: number;
  readonly entropies: readonly StepEntropy[];
  /** [steps][steps]: pairwise attention-map similarity (AttentionMapRecorder.similarity). */
  readonly attentionSimilarity: number[][];
  /** ∂L/∂h_s [T, d] for the output h_s of every step s. */
  readonly activationGrads: readonly tf.Tensor2D[];
  /** h_s [T, d] of every step. */
  readonly hidden: readonly tf.Tensor2D[];
  /** By probeKey: ∂L/∂y [T, out] of each projection, ∂L/∂w [d] of each norm weight. */
  readonly probeGrads: ReadonlyMap<string, tf.Tensor>;
  /** By probeKey: each projection's input x [T, in]. */
  readonly inputs: ReadonlyMap<string, tf.Tensor2D>;
  dispose(): void;
}

/**
 * Forward and backward of one window [BOS, …] (loss on its next tokens, as training computes it),
 * through zero probes: one added to every step's output h_s, so ∂L/∂probe = ∂L/∂h_s, and the
 * ProbeAdapter's on projections and norms.
 */
export async function windowGradients(pass: DiagnosticPass, ids: readonly number[]): Promise<WindowGradients> {
  const { config } = pass.decoder;
  const tokens = ids.length - 1;
  const activation = pass.steps.map(() => tf.zeros([tokens, config.hiddenSize]) as tf.Tensor2D); // [T, d] each
  const probes = zeroProbes(config, pass.steps, tokens);
  pass.probe.probes = probes;
  const cache = pass.decoder.newCache();
  const maps = new AttentionMapRecorder(cache);
  const recorder = new EntropyRecorder(maps);
  const hidden: tf.Tensor2D[] = [];
  try {
    // built-in kernels: the WebGPU shaders Recur registers have no gradients
    const { value, grads } = withBuiltinKernels(() =>
      tf.valueAndGrads(() => probedLoss(pass, ids, activation, { cache: recorder, hidden }))([
        ...activation,
        ...probes.values(),
      ]),
    );
    const loss = (await value.data())[0] as number;
    value.dispose();
    const names = [...probes.keys()];
    const inputs = new Map(pass.probe.inputs);
    pass.probe.inputs.clear();
    return {
      loss,
      entropies: await recorder.read(),
      attentionSimilarity: await maps.similarity(pass.steps.length),
      activationGrads: grads.slice(0, activation.length) as tf.Tensor2D[],
      hidden,
      probeGrads: new Map(names.map((name, i) => [name, grads[activation.length + i] as tf.Tensor])),
      inputs,
      dispose: () => {
        tf.dispose([...grads, ...hidden, ...new Set(inputs.values())]);
      },
    };
  } catch (error) {
    tf.dispose(hidden);
    pass.probe.release();
    throw error;
  } finally {
    recorder.dispose();
    maps.dispose();
    cache.dispose();
    tf.dispose([...activation, ...probes.values()]);
    pass.probe.probes = new Map();
  }
}

/**
 * The window's loss with `offsets[s]` [T, d] added to step s's output (a missing one adds nothing):
 * what finite differences of ∂L/∂h_s perturb. No gradients, no probes kept.
 */
export function windowLoss(
  pass: DiagnosticPass,
  ids: readonly number[],
  offsets: ReadonlyMap<number, tf.Tensor2D> = new Map(),
): number {
  const tokens = ids.length - 1;
  const probes = zeroProbes(pass.decoder.config, pass.steps, tokens);
  pass.probe.probes = probes;
  const cache = pass.decoder.newCache();
  try {
    return tf.tidy(() => {
      const activation = pass.steps.map(
        (s) => offsets.get(s.step) ?? (tf.zeros([tokens, pass.decoder.config.hiddenSize]) as tf.Tensor2D),
      );
      return probedLoss(pass, ids, activation, { cache }).dataSync()[0] as number;
    });
  } finally {
    pass.probe.release();
    cache.dispose();
    tf.dispose([...probes.values()]);
    pass.probe.probes = new Map();
  }
}

/**
 * ∂L/∂W_eff [out, in] (and ∂L/∂b [out] where the layer has a bias) of `module` at `step`:
 * (∂L/∂y)ᵀ·x from the probe's gradient and the kept input.
 */
export function weightGradient(
  window: WindowGradients,
  pass: DiagnosticPass,
  call: LayerCall,
  module: AdaptedModule,
): { weight: tf.Tensor2D; bias?: tf.Tensor1D } {
  const key = probeKey(call.step, module);
  const dy = window.probeGrads.get(key) as tf.Tensor2D; // [T, out]
  const x = window.inputs.get(key);
  if (!x) throw new Error(`diagnose: step ${call.step} ran no ${module}`);
  const weight = tf.matMul(dy, x, true, false) as tf.Tensor2D; // [out, in]
  const hasBias = pass.decoder.weights.has(layerKey(call.unique, `${module}.bias`));
  return hasBias ? { weight, bias: tf.sum(dy, 0) as tf.Tensor1D } : { weight };
}

/** embed → every step (+ its offset) → head → mean cross-entropy on the window's next tokens. */
function probedLoss(
  pass: DiagnosticPass,
  ids: readonly number[],
  activation: readonly tf.Tensor2D[],
  sink: { readonly cache: AttentionCache; readonly hidden?: tf.Tensor2D[] },
): tf.Scalar {
  const inputs = ids.slice(0, -1);
  const targets = Int32Array.from(ids.slice(1));
  const positions = Int32Array.from(inputs, (_, i) => i);
  let h = pass.decoder.embed(inputs); // [T, d]
  for (const call of pass.steps) {
    const out = pass.decoder.runLayers(h, [call], { positions, cache: sink.cache }); // [T, d]
    h = tf.add(out, activation[call.step] as tf.Tensor2D) as tf.Tensor2D;
    sink.hidden?.push(tf.keep(h));
  }
  return crossEntropy(pass.decoder.head(h), targets);
}
