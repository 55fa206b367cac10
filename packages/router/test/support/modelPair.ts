import { Mulberry32, tf } from '@recur/tensor';
import {
  adaptedModules,
  Decoder,
  decoderWeightSpecs,
  FastDecoder,
  type AdaptedModule,
  type DecoderConfig,
  type FastAdapterSource,
  type LayerAdapter,
  type LayerCall,
  type NormName,
} from '@recur/graph';

/** The same random recursive model on both executors: the tfjs Decoder and the FastDecoder over its weights. */
export interface ModelPair {
  readonly decoder: Decoder;
  readonly fast: FastDecoder;
  dispose(): void;
}

export interface PairSpec {
  readonly config: DecoderConfig;
  /** Depth-wise LoRA rank on every module of every block step (0: none). */
  readonly rank: number;
  readonly perLoopNorms: boolean;
  readonly seed: number;
}

const uniform = (random: Mulberry32, scale: number) => (): number => (random.next() - 0.5) * scale;

function weightArrays(config: DecoderConfig, seed: number): Map<string, Float32Array> {
  const next = uniform(new Mulberry32(seed), 0.8);
  return new Map(
    decoderWeightSpecs(config).map((spec) => {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      const isNorm = spec.shape.length === 1 && spec.name.endsWith('norm.weight');
      return [spec.name, Float32Array.from({ length: size }, () => (isNorm ? 1 + 0.5 * next() : next()))];
    }),
  );
}

function moduleDims(config: DecoderConfig, m: AdaptedModule): [number, number] {
  const { hiddenSize: d, intermediateSize: ff, numHeads: h, numKvHeads: kv, headDim: hd } = config;
  if (m === 'self_attn.q_proj') return [d, h * hd];
  if (m === 'self_attn.k_proj' || m === 'self_attn.v_proj') return [d, kv * hd];
  if (m === 'self_attn.o_proj') return [h * hd, d];
  return m === 'mlp.down_proj' ? [ff, d] : [d, ff];
}

/**
 * Seeded LoRA factors (key `${unique}.${module}.${loop}.A|B`) and
 * per-loop norms (`${unique}.${norm}.${loop}`) of every executed step.
 */
function adapterTensors(config: DecoderConfig, spec: PairSpec): Map<string, tf.Tensor> {
  const next = uniform(new Mulberry32(spec.seed + 1000), 0.4);
  const t = new Map<string, tf.Tensor>();
  const order = config.layerOrder ?? [];
  const seen = new Map<number, number>();
  for (const unique of order) {
    const loop = seen.get(unique) ?? 0;
    seen.set(unique, loop + 1);
    if (spec.rank > 0) {
      for (const m of adaptedModules) {
        const [inDim, out] = moduleDims(config, m);
        t.set(
          `${unique}.${m}.${loop}.A`,
          tf.tensor2d(Float32Array.from({ length: spec.rank * inDim }, next), [spec.rank, inDim]),
        );
        t.set(
          `${unique}.${m}.${loop}.B`,
          tf.tensor2d(Float32Array.from({ length: out * spec.rank }, next), [out, spec.rank]),
        );
      }
    }
    if (spec.perLoopNorms) {
      for (const n of ['input_layernorm', 'post_attention_layernorm'])
        t.set(
          `${unique}.${n}.${loop}`,
          tf.tensor1d(Float32Array.from({ length: config.hiddenSize }, () => 1 + next())),
        );
    }
  }
  return t;
}

const SCALE = 0.5;

export async function modelPair(spec: PairSpec): Promise<ModelPair> {
  const tensors = adapterTensors(spec.config, spec);
  const source: FastAdapterSource = {
    scale: SCALE,
    factors: (u, m, l) => {
      const [a, b] = [tensors.get(`${u}.${m}.${l}.A`), tensors.get(`${u}.${m}.${l}.B`)];
      return a && b ? { a, b } : undefined;
    },
    norm: (u, n, l) => tensors.get(`${u}.${n}.${l}`),
  };
  const adapter: LayerAdapter = {
    adapt: (m: AdaptedModule, call: LayerCall, x: tf.Tensor2D, y: tf.Tensor2D) => {
      const f = source.factors(call.unique, m, call.loop);
      return f
        ? (tf.add(y, tf.mul(tf.matMul(tf.matMul(x, f.a, false, true), f.b, false, true), SCALE)) as tf.Tensor2D)
        : y;
    },
    norm: (n: NormName, call: LayerCall) => source.norm(call.unique, n, call.loop) as tf.Tensor1D | undefined,
  };
  const adapted = tensors.size > 0;
  const decoder = Decoder.fromArrays(spec.config, weightArrays(spec.config, spec.seed), adapted ? { adapter } : {});
  const fast = await FastDecoder.create(spec.config, decoder.weights, {
    ...(adapted && { adapter: source }),
    maxRows: 4,
    chunkRows: 4,
  });
  if (!fast) throw new Error('no fused runtime on this backend');
  return {
    decoder,
    fast,
    dispose: () => {
      fast.dispose();
      decoder.dispose();
      for (const x of tensors.values()) x.dispose();
    },
  };
}
