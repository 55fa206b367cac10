import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import {
  adaptedModules,
  Decoder,
  FastDecoder,
  type AdaptedModule,
  type DecoderConfig,
  type FastAdapterSource,
  type LayerAdapter,
  type LayerCall,
  type NormName,
} from '../src/index.js';
import { maxAbsDiff, smallFast, TOL } from './fastSuite.js';
import { randomWeights } from './randomWeights.js';

// MIDDLE-CYCLE-like: prologue layer 0, block [1, 2] looped twice, epilogue layer 3 (6 executed steps).
const config: DecoderConfig = { ...smallFast, numLayers: 4, layerOrder: [0, 1, 2, 1, 2, 3] };
const RANK = 3; // not a multiple of 4: the fast path pads it
const SCALE = 0.5;

/** Seeded depth-wise LoRA on the block's layers (every module, both loops) and per-loop norms at loop 1. */
function adapterTensors(): Map<string, tf.Tensor> {
  let state = 99;
  const next = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state / 4294967296 - 0.5) * 0.3;
  };
  const dims = (m: AdaptedModule): [number, number] => {
    const { hiddenSize: d, intermediateSize: ff, numHeads: h, numKvHeads: kv, headDim: hd } = config;
    if (m === 'self_attn.q_proj') return [d, h * hd];
    if (m === 'self_attn.k_proj' || m === 'self_attn.v_proj') return [d, kv * hd];
    if (m === 'self_attn.o_proj') return [h * hd, d];
    return m === 'mlp.down_proj' ? [ff, d] : [d, ff];
  };
  const t = new Map<string, tf.Tensor>();
  for (const unique of [1, 2]) {
    for (const loop of [0, 1]) {
      for (const m of adaptedModules) {
        const [inDim, out] = dims(m);
        t.set(
          `${unique}.${m}.${loop}.A`,
          tf.tensor2d(Float32Array.from({ length: RANK * inDim }, next), [RANK, inDim]),
        );
        t.set(`${unique}.${m}.${loop}.B`, tf.tensor2d(Float32Array.from({ length: out * RANK }, next), [out, RANK]));
      }
      if (loop === 1)
        for (const n of ['input_layernorm', 'post_attention_layernorm'])
          t.set(
            `${unique}.${n}.${loop}`,
            tf.tensor1d(Float32Array.from({ length: config.hiddenSize }, () => 1 + next())),
          );
    }
  }
  return t;
}

let tensors: Map<string, tf.Tensor>;
let decoder: Decoder;
let fast: FastDecoder;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1 });
  tensors = adapterTensors();
  const source: FastAdapterSource = {
    scale: SCALE,
    factors: (u, m, l) => {
      const [a, b] = [tensors.get(`${u}.${m}.${l}.A`), tensors.get(`${u}.${m}.${l}.B`)];
      return a && b ? { a, b } : undefined;
    },
    norm: (u, n, l) => tensors.get(`${u}.${n}.${l}`),
  };
  const reference: LayerAdapter = {
    adapt: (m: AdaptedModule, call: LayerCall, x: tf.Tensor2D, y: tf.Tensor2D) => {
      const f = source.factors(call.unique, m, call.loop);
      return f
        ? (tf.add(y, tf.mul(tf.matMul(tf.matMul(x, f.a, false, true), f.b, false, true), SCALE)) as tf.Tensor2D)
        : y;
    },
    norm: (n: NormName, call: LayerCall) => source.norm(call.unique, n, call.loop) as tf.Tensor1D | undefined,
  };
  decoder = Decoder.fromArrays(config, randomWeights(config, 5), { adapter: reference });
  fast = (await FastDecoder.create(config, decoder.weights, { adapter: source, maxRows: 8, chunkRows: 8 }))!;
});

afterAll(() => {
  fast.dispose();
  decoder.dispose();
  for (const t of tensors.values()) t.dispose();
});

const ids = (seed: number, n: number): number[] =>
  Array.from({ length: n }, (_, i) => (i * 29 + seed * 13 + 3) % config.vocabSize);

describe('FastDecoder depth rows (continuous depth-wise batching)', () => {
  it('with depth-wise LoRA (padded rank, scale) and per-loop norms, forward equals the tfjs Decoder', () => {
    const prompt = ids(1, 11);
    const expected = tf.tidy(() => decoder.forward(prompt).dataSync() as Float32Array);
    expect(maxAbsDiff(fast.forward(prompt), expected)).toBeLessThan(TOL);
  });

  it('two sequences stepped one loop per call, at different loops in the same calls, equal the full forward', () => {
    const d = config.hiddenSize;
    const V = config.vocabSize;
    const seqs = [ids(2, 9), ids(3, 6)];
    const caches = seqs.map(() => fast.newCache(16));
    const states = seqs.map((s) => s.map(() => new Float32Array(d)));
    const logits = seqs.map((s) => s.map(() => new Float32Array(V)));
    // Sequence 1 starts one step later, so each call holds loop 0 of one and loop 1 of the other.
    const steps = Math.max(...seqs.map((s, k) => s.length * 2 + k));
    for (let step = 0; step < steps; step++) {
      const rows = seqs.flatMap((s, k) => {
        const t = step - k;
        if (t < 0 || t >= s.length * 2) return [];
        const [pos, loop] = [Math.floor(t / 2), t % 2];
        return [
          {
            cache: caches[k]!,
            pos,
            loop,
            id: s[pos]!,
            state: states[k]![pos]!,
            readout: loop === 1,
            ...(loop === 1 && { logits: logits[k]![pos]! }),
          },
        ];
      });
      fast.runDepthRows(rows);
    }
    seqs.forEach((s, k) => {
      const expected = tf.tidy(() => decoder.forward(s).dataSync() as Float32Array);
      s.forEach((_, p) => expect(maxAbsDiff(logits[k]![p]!, expected.subarray(p * V, (p + 1) * V))).toBeLessThan(TOL));
    });
    caches.forEach((c) => c.dispose());
  });

  it('refuses rows at loops the model does not have and exits at impossible depths (copy and shared KV are checked against the tfjs path in @recur/engine)', () => {
    const cache = fast.newCache(8);
    const state = new Float32Array(config.hiddenSize);
    expect(() => fast.runDepthRows([{ cache, pos: 0, loop: 2, id: 5, state }])).toThrow(RangeError);
    fast.runDepthRows([{ cache, pos: 0, loop: 0, id: 5, state, readout: true }]);
    fast.exitPosition(cache, 0, 1);
    expect(() => fast.exitPosition(cache, 0, 3)).toThrow(RangeError);
    cache.dispose();
  });
});
