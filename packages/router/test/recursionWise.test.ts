import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Mulberry32, tf } from '@recur/tensor';
import {
  Decoder,
  decoderWeightSpecs,
  DepthKvCache,
  type AdaptedModule,
  type DecoderConfig,
  type DepthKvMode,
  type LayerAdapter,
  type LayerCall,
} from '@recur/graph';
import { depthForward, type LoopRouting } from '../src/index.js';
import { refAttendVector as attention } from '@recur/tensor/reference';
import { referenceDepthForward } from './referenceDepthForward.js';

// MIDDLE-CYCLE: unique layer 0, block of stored layers 1, 2 looped N = 3 times, unique layer 3.
const config: DecoderConfig = {
  vocabSize: 40,
  hiddenSize: 16,
  intermediateSize: 24,
  numLayers: 4,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 4,
  maxPositionEmbeddings: 64,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieWordEmbeddings: true,
  layerOrder: [0, 1, 2, 1, 2, 1, 2, 3],
};
const structure = { prologue: [0], block: [1, 2], loops: 3, epilogue: [3] };
const ids = [1, 7, 3, 22, 9, 14, 30, 5, 2, 11];
// Tokens 1, 4 and 6 leave after loop 0, tokens 2 and 7 after loop 1; later tokens go deeper.
const depths = [3, 1, 2, 3, 1, 3, 1, 2, 3, 3];

function randomArrays(c: DecoderConfig, seed: number): Map<string, Float32Array> {
  const random = new Mulberry32(seed);
  const out = new Map<string, Float32Array>();
  for (const spec of decoderWeightSpecs(c)) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const isNorm = spec.shape.length === 1;
    out.set(
      spec.name,
      Float32Array.from({ length: size }, () =>
        isNorm ? 1 + 0.4 * (random.next() - 0.5) : 0.8 * (random.next() - 0.5),
      ),
    );
  }
  return out;
}

/** Every token runs exactly depths[position] loops (rows of a call start at position `offset`). */
const fixedDepths = (wanted: readonly number[], offset: number): LoopRouting => ({
  update: 'replace',
  choose: (r, _h, candidates) => ({ selected: candidates.filter((t) => wanted[offset + t]! > r) }),
});

interface Attended {
  readonly step: number;
  readonly loop: number;
  readonly positions: number[];
  readonly q: Float32Array; // [A, nHeads·headDim]
  readonly k: Float32Array; // [A, nKvHeads·headDim]
  readonly v: Float32Array; // [A, nKvHeads·headDim]
  readonly out: Float32Array; // [A, nHeads·headDim]
}

/** A DepthKvCache that records what each attention call was given and what it returned. */
class RecordingCache extends DepthKvCache {
  readonly calls: Attended[] = [];
  override attend(call: LayerCall, q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, positions: Int32Array): tf.Tensor2D {
    const out = super.attend(call, q, k, v, positions);
    this.calls.push({
      step: call.step,
      loop: call.loop,
      positions: Array.from(positions),
      q: q.dataSync() as Float32Array,
      k: k.dataSync() as Float32Array,
      v: v.dataSync() as Float32Array,
      out: out.dataSync() as Float32Array,
    });
    return out;
  }
}

/** ids through depthForward with fixed depths, `step` tokens per call: logits [T·V], depths, the attention record. */
function run(decoder: Decoder, mode: DepthKvMode, step: number, wanted = depths) {
  const cache = new RecordingCache(decoder.loops, mode);
  const logits: number[] = [];
  const ran: number[] = [];
  for (let s = 0; s < ids.length; s += step) {
    const out = tf.tidy(() => {
      const res = depthForward(decoder, ids.slice(s, s + step), { cache, routing: fixedDepths(wanted, s) });
      return { logits: tf.keep(res.logits), depths: res.depths };
    });
    logits.push(...out.logits.dataSync());
    ran.push(...out.depths);
    out.logits.dispose();
  }
  cache.dispose();
  return { logits, depths: ran, calls: cache.calls };
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
};
const row = (data: Float32Array, i: number, width: number): Float32Array => data.subarray(i * width, (i + 1) * width);

/**
 * For every attention call of loops ≥ 1: the worst gap between its output and float64 attention over
 * the keys/values written at that step by the tokens that ran it (positions ≤ the query's), and the
 * positions of those keys.
 */
function deepAttentionGaps(calls: readonly Attended[]) {
  const { numHeads: H, numKvHeads: Hkv, headDim: hd } = config;
  const written = new Map<number, { position: number; k: Float32Array; v: Float32Array }[]>();
  const gaps: { loop: number; position: number; keys: number[]; gap: number }[] = [];
  for (const c of calls) {
    const rows = written.get(c.step) ?? [];
    c.positions.forEach((position, i) => rows.push({ position, k: row(c.k, i, Hkv * hd), v: row(c.v, i, Hkv * hd) }));
    written.set(c.step, rows);
    if (c.loop === 0) continue;
    c.positions.forEach((position, i) => {
      const visible = rows.filter((r) => r.position <= position);
      const want = attention(
        row(c.q, i, H * hd),
        visible.map((r) => r.k),
        visible.map((r) => r.v),
        H,
        Hkv,
        hd,
      );
      gaps.push({
        loop: c.loop,
        position,
        keys: visible.map((r) => r.position),
        gap: maxAbsDiff(row(c.out, i, H * hd), want),
      });
    });
  }
  return gaps;
}

let decoder: Decoder;
let arrays: Map<string, Float32Array>;

beforeAll(async () => {
  await initBackend();
  await tf.setBackend('cpu');
  arrays = randomArrays(config, 11);
  decoder = Decoder.fromArrays(config, arrays);
});

describe('recursion-wise KV: a deeper query ignores tokens that left', () => {
  it('at loop r, attention is over the keys/values of only the tokens that ran loop r (float64 reference, 1e-5)', () => {
    for (const step of [1, ids.length]) {
      const { depths: ran, calls } = run(decoder, 'recursion-wise', step);
      expect(ran).toEqual(depths);
      const gaps = deepAttentionGaps(calls);
      for (const g of gaps) {
        expect(g.gap, `loop ${g.loop}, position ${g.position}`).toBeLessThan(1e-5);
        expect(
          g.keys.every((p) => depths[p]! > g.loop),
          `loop ${g.loop} sees [${g.keys}]`,
        ).toBe(true);
      }
      // The case that matters occurs: deeper queries after tokens that left.
      expect(gaps.some((g) => g.loop === 2 && g.position > 2 && !g.keys.includes(1) && !g.keys.includes(2))).toBe(true);
    }
    // The check has teeth: under 'copy' the departed tokens' keys
    // sit in deeper loops and the same reference misses them.
    const copied = deepAttentionGaps(run(decoder, 'copy', 1).calls);
    expect(Math.max(...copied.map((g) => g.gap))).toBeGreaterThan(1e-3);
  });

  it('logits equal an independent float64 forward that drops departed tokens from deeper loops, whole-sequence and token by token', () => {
    const expected = referenceDepthForward(config, arrays, ids, depths, structure);
    const tolerance = 1e-5 * Math.max(1, ...Array.from(expected, Math.abs));
    for (const step of [1, ids.length])
      expect(maxAbsDiff(run(decoder, 'recursion-wise', step).logits, expected), `step ${step}`).toBeLessThan(tolerance);
    expect(maxAbsDiff(run(decoder, 'copy', 1).logits, expected)).toBeGreaterThan(1e-3); // copy keeps them visible
    const fullDepth = referenceDepthForward(
      config,
      arrays,
      ids,
      ids.map(() => 3),
      structure,
    );
    expect(maxAbsDiff(fullDepth, expected)).toBeGreaterThan(1e-3); // the exits matter
  });

  it("perturbing a departed token's state after it left changes no deeper token (CYCLE: nothing after the loops reads it)", () => {
    const cycle: DecoderConfig = { ...config, numLayers: 2, layerOrder: [0, 1, 0, 1, 0, 1] };
    const weights = randomArrays(cycle, 12);
    const leaver = 1;
    /**
     * Adds a large offset to the leaver's o_proj output in the last layer of loop 0 (step 1), after
     * its last attention: its exit state moves, none of its loop-0 keys/values do.
     */
    const kick: LayerAdapter = {
      adapt: (module: AdaptedModule, call: LayerCall, _x: tf.Tensor2D, y: tf.Tensor2D) => {
        if (module !== 'self_attn.o_proj' || call.step !== 1) return y;
        const mask = tf.reshape(tf.oneHot(tf.tensor1d([leaver], 'int32'), y.shape[0]), [y.shape[0], 1]); // [T, 1]
        return tf.add(y, tf.mul(mask, 3)) as tf.Tensor2D;
      },
    };
    const plain = Decoder.fromArrays(cycle, weights);
    const kicked = Decoder.fromArrays(cycle, weights, { adapter: kick });
    const V = config.vocabSize;
    const others = (logits: number[]) => logits.filter((_, i) => Math.floor(i / V) !== leaver);
    const mine = (logits: number[]) => logits.slice(leaver * V, (leaver + 1) * V);
    const [base, moved] = [run(plain, 'recursion-wise', ids.length), run(kicked, 'recursion-wise', ids.length)];
    expect(maxAbsDiff(mine(moved.logits), mine(base.logits))).toBeGreaterThan(1e-2); // its own exit state did move
    expect(maxAbsDiff(others(moved.logits), others(base.logits))).toBeLessThan(1e-6);
    // Control: had the token stayed for loop 1, the same kick would reach the deeper tokens.
    const stays = depths.map((d, t) => (t === leaver ? 2 : d));
    const [baseStays, movedStays] = [
      run(plain, 'recursion-wise', ids.length, stays),
      run(kicked, 'recursion-wise', ids.length, stays),
    ];
    expect(maxAbsDiff(others(movedStays.logits), others(baseStays.logits))).toBeGreaterThan(1e-3);
    plain.dispose();
    kicked.dispose();
  });
});
