import { tf } from '@recur/tensor';
import { OptimError } from './errors.js';

export interface AdamWOptions {
  readonly beta1?: number; // default 0.9
  readonly beta2?: number; // default 0.999
  readonly epsilon?: number; // default 1e-8
  /** Decoupled weight decay λ: p ← p − lr·λ·p, independent of the adaptive step. Default 0.01 (PyTorch). */
  readonly weightDecay?: number;
  /** Which parameters decay; default `decaysByDefault` (matrices except embeddings and the LM head). */
  readonly decay?: (name: string, shape: readonly number[]) => boolean;
}

/** Optimizer state as plain arrays by parameter name, e.g. for a checkpoint. */
export interface AdamWState {
  /** Updates taken so far (bias correction uses step + 1 on the next one). */
  readonly step: number;
  readonly m: ReadonlyMap<string, Float32Array>;
  readonly v: ReadonlyMap<string, Float32Array>;
}

/** Norm gains, biases and token embeddings are usually left out of weight decay. */
export function decaysByDefault(name: string, shape: readonly number[]): boolean {
  return shape.length >= 2 && !name.includes('embed_tokens') && !name.startsWith('lm_head');
}

interface Slot {
  readonly param: tf.Variable;
  readonly m: tf.Variable;
  readonly v: tf.Variable;
  readonly decays: boolean;
}

/**
 * AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"): Adam moments with bias
 * correction, and weight decay applied to the weights directly rather than folded into the gradient.
 * Moments live in tf.Variables beside each parameter; `state()`/`loadState()` move them as arrays.
 */
export class AdamW {
  private readonly slots = new Map<string, Slot>();
  private steps = 0;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;

  constructor(params: ReadonlyMap<string, tf.Variable>, options: AdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    const decay = options.decay ?? decaysByDefault;
    // tidy: the zeros' handles go (each variable keeps its data), else every slot leaves a tensor in tf.memory()
    const zeros = (param: tf.Variable) => tf.tidy(() => tf.variable(tf.zerosLike(param), false));
    for (const [name, param] of params) {
      this.slots.set(name, {
        param,
        m: zeros(param),
        v: zeros(param),
        decays: decay(name, param.shape),
      });
    }
  }

  get step(): number {
    return this.steps;
  }

  /** Names of the parameters this optimizer updates, in insertion order. */
  get names(): string[] {
    return [...this.slots.keys()];
  }

  /** One update with learning rate `lr`; `grads` must hold a gradient for every parameter. */
  apply(grads: ReadonlyMap<string, tf.Tensor>, lr: number): void {
    this.steps += 1;
    const correction1 = 1 - this.beta1 ** this.steps;
    const correction2 = 1 - this.beta2 ** this.steps;
    for (const [name, slot] of this.slots) {
      const g = grads.get(name);
      if (!g) throw new OptimError(`AdamW: no gradient for parameter ${name}`);
      tf.tidy(() => this.update(slot, g, lr, correction1, correction2));
    }
  }

  /** m̂/(√v̂ + ε) with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ); only the new m, v and parameter survive. */
  private update(slot: Slot, g: tf.Tensor, lr: number, correction1: number, correction2: number): void {
    const m = tf.add(tf.mul(slot.m, this.beta1), tf.mul(g, 1 - this.beta1));
    const v = tf.add(tf.mul(slot.v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
    const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(correction2)), this.epsilon);
    const step = tf.mul(tf.div(m, denom), lr / correction1);
    const decayed = slot.decays && this.weightDecay !== 0 ? tf.mul(slot.param, 1 - lr * this.weightDecay) : slot.param;
    slot.m.assign(m);
    slot.v.assign(v);
    slot.param.assign(tf.sub(decayed, step));
  }

  state(): AdamWState {
    const m = new Map<string, Float32Array>();
    const v = new Map<string, Float32Array>();
    for (const [name, slot] of this.slots) {
      m.set(name, slot.m.dataSync() as Float32Array);
      v.set(name, slot.v.dataSync() as Float32Array);
    }
    return { step: this.steps, m, v };
  }

  /** Restores moments and step; throws OptimError naming the first parameter that does not fit. */
  loadState(state: AdamWState): void {
    for (const [name, slot] of this.slots) {
      for (const [which, arrays, target] of [
        ['m', state.m, slot.m],
        ['v', state.v, slot.v],
      ] as const) {
        const data = arrays.get(name);
        if (!data) throw new OptimError(`AdamW state has no ${which} for parameter ${name}`);
        if (data.length !== slot.param.size) {
          throw new OptimError(
            `AdamW state: ${which} of ${name} has ${data.length} values, the parameter has ${slot.param.size}`,
          );
        }
        target.assign(tf.tensor(data, slot.param.shape, 'float32'));
      }
    }
    this.steps = state.step;
  }

  dispose(): void {
    for (const slot of this.slots.values()) {
      slot.m.dispose();
      slot.v.dispose();
    }
  }
}
