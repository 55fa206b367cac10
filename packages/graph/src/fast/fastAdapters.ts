import type { FusedRuntime, tf } from '@recur/tensor';
import { adaptedModules, type AdaptedModule, type NormName } from '../adapter.js';
import { ConfigError, type DecoderConfig } from '../config.js';
import type { LayerCall } from '../layer.js';

/**
 * Where the fast path finds a model's adapters: depth-wise LoRA factors per (stored layer, module,
 * loop) and per-loop norms. @recur/lora's DepthwiseLora is one (the engine wraps it); the graph
 * never imports an adapter package.
 */
export interface FastAdapterSource {
  /** Multiplier of B·A. */
  readonly scale: number;
  /** A [r, in] and B [out, r] of one executed step's module, or undefined when it has none. */
  factors(
    unique: number,
    module: AdaptedModule,
    loop: number,
  ): { readonly a: tf.Tensor; readonly b: tf.Tensor } | undefined;
  /** A per-loop norm weight [d], or undefined to use the stored layer's own. */
  norm(unique: number, name: NormName, loop: number): tf.Tensor | undefined;
}

/** One module's LoRA in the heap: A [rank, in] and scale·B [out, rank], rank padded to a multiple of 4 with zeros. */
export interface FastLora {
  readonly a: number;
  readonly b: number;
  readonly rank: number;
}

/** Adapters of one (stored layer, loop): LoRA per module and per-loop norms (heap byte offsets). */
export interface FastLoopAdapter {
  readonly lora: ReadonlyMap<AdaptedModule, FastLora>;
  readonly inputNormAt?: number;
  readonly postNormAt?: number;
}

const moduleShape = (config: DecoderConfig, module: AdaptedModule): { in: number; out: number } => {
  const { hiddenSize: d, intermediateSize: ff, numHeads, numKvHeads, headDim } = config;
  switch (module) {
    case 'self_attn.q_proj':
      return { in: d, out: numHeads * headDim };
    case 'self_attn.k_proj':
    case 'self_attn.v_proj':
      return { in: d, out: numKvHeads * headDim };
    case 'self_attn.o_proj':
      return { in: numHeads * headDim, out: d };
    case 'mlp.gate_proj':
    case 'mlp.up_proj':
      return { in: d, out: ff };
    case 'mlp.down_proj':
      return { in: ff, out: d };
  }
};

/**
 * The adapters of every executed step, copied once into one heap block: A as it is (rows padded to a
 * multiple of 4), B pre-multiplied by the scale (columns padded), per-loop norms. Batched multi-LoRA
 * in the manner of S-LoRA / Punica: rows are grouped by their (layer, loop) slot and each group runs
 * A·x then B·(A·x) as two extra linear jobs accumulated into the base projection's output.
 */
export class FastAdapters {
  /** Largest padded rank (low-rank scratch is sized by it). */
  readonly maxRank: number;
  private readonly table = new Map<string, FastLoopAdapter>();
  private readonly block: { tensor: tf.Tensor1D; offset: number };

  constructor(config: DecoderConfig, steps: readonly LayerCall[], source: FastAdapterSource, runtime: FusedRuntime) {
    type Pending = {
      module: AdaptedModule;
      a: Float32Array;
      b: Float32Array;
      rank: number;
      padded: number;
      shape: { in: number; out: number };
    };
    const pending = new Map<string, { loras: Pending[]; norms: Partial<Record<NormName, Float32Array>> }>();
    let floats = 0;
    let maxRank = 0;
    for (const call of steps) {
      const key = `${call.unique}:${call.loop}`;
      if (pending.has(key)) continue;
      const entry = { loras: [] as Pending[], norms: {} as Partial<Record<NormName, Float32Array>> };
      for (const module of adaptedModules) {
        const f = source.factors(call.unique, module, call.loop);
        if (!f) continue;
        const shape = moduleShape(config, module);
        const rank = f.a.shape[0] ?? 0;
        if (f.a.shape.join('x') !== `${rank}x${shape.in}` || f.b.shape.join('x') !== `${shape.out}x${rank}`) {
          throw new ConfigError(
            module,
            `LoRA of layer ${call.unique} loop ${call.loop} ${module}: A [${f.a.shape}], B [${f.b.shape}]; expected [r, ${shape.in}] and [${shape.out}, r]`,
          );
        }
        const padded = Math.ceil(rank / 4) * 4;
        entry.loras.push({
          module,
          a: f.a.dataSync() as Float32Array,
          b: f.b.dataSync() as Float32Array,
          rank,
          padded,
          shape,
        });
        floats += padded * (shape.in + shape.out);
        maxRank = Math.max(maxRank, padded);
      }
      for (const name of ['input_layernorm', 'post_attention_layernorm'] as const) {
        const w = source.norm(call.unique, name, call.loop);
        if (w) entry.norms[name] = w.dataSync() as Float32Array;
        if (w) floats += config.hiddenSize;
      }
      pending.set(key, entry);
    }
    this.maxRank = maxRank;
    this.block = runtime.alloc(floats + 16);
    const f32 = runtime.f32;
    let at = this.block.offset >>> 2;
    const place = (n: number): number => {
      const offset = at * 4;
      at += n;
      return offset;
    };
    for (const [key, { loras, norms }] of pending) {
      const lora = new Map<AdaptedModule, FastLora>();
      for (const p of loras) {
        const a = place(p.padded * p.shape.in);
        f32.set(p.a, a >>> 2); // [rank, in]; padded rows stay zero
        const b = place(p.shape.out * p.padded);
        for (let o = 0; o < p.shape.out; o++) {
          for (let r = 0; r < p.rank; r++) f32[(b >>> 2) + o * p.padded + r] = p.b[o * p.rank + r]! * source.scale; // [out, padded]
        }
        lora.set(p.module, { a, b, rank: p.padded });
      }
      const normAt = (w: Float32Array | undefined): number | undefined => {
        if (!w) return undefined;
        const offset = place(w.length);
        f32.set(w, offset >>> 2);
        return offset;
      };
      const inputNormAt = normAt(norms.input_layernorm);
      const postNormAt = normAt(norms.post_attention_layernorm);
      this.table.set(key, {
        lora,
        ...(inputNormAt !== undefined && { inputNormAt }),
        ...(postNormAt !== undefined && { postNormAt }),
      });
    }
  }

  /** The adapters of stored layer `unique` at `loop`, if any. */
  at(unique: number, loop: number): FastLoopAdapter | undefined {
    return this.table.get(`${unique}:${loop}`);
  }

  dispose(): void {
    this.block.tensor.dispose();
  }
}
