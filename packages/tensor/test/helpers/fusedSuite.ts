import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FusedOps, initBackend, tf, wasmThreads } from '../../src/index.js';
import {
  refApplyAttentionProbabilities,
  refAttentionProbabilities,
  refCausalAttention,
  refLinear,
} from '../../src/reference/index.js';
import { expectClose } from './close.js';
import { mulberry32, randomArray } from './prng.js';

/** Fused kernels vs the plain references; float32 sums against float64: 1e-5 relative to the output scale. */
const TOL = 1e-5;

/** Kernel-vs-reference checks of the fused ops on a wasm backend started with `threads`. */
export function fusedKernelSuite(threads: number): void {
  describe(`fused kernels on ${threads} wasm thread(s)`, () => {
    let ops: FusedOps;
    const kept: tf.Tensor[] = [];
    beforeAll(async () => {
      expect(await initBackend({ backend: 'wasm', threads })).toBe('wasm');
      expect(wasmThreads()).toBe(threads);
      const created = await FusedOps.create();
      if (!created) throw new Error('no fused runtime on wasm');
      ops = created;
      expect(ops.threads).toBe(threads);
      // relaxed SIMD (fused multiply-adds in linearTiled) is on unless RECUR_WASM_FMA=0
      expect(ops.runtime.pool.fma).toBe(process.env.RECUR_WASM_FMA !== '0');
    });
    afterAll(() => {
      tf.dispose(kept);
      ops.dispose();
    });

    /** Copies `data` into a fresh kept heap buffer; returns its byte offset. */
    const put = (data: Float32Array | number): number => {
      const n = typeof data === 'number' ? data : data.length;
      const { tensor, offset } = ops.runtime.alloc(n);
      kept.push(tensor);
      if (typeof data !== 'number') ops.runtime.f32.set(data, offset >> 2);
      return offset;
    };
    const read = (offset: number, n: number): Float32Array => ops.runtime.f32.slice(offset >> 2, (offset >> 2) + n);

    const linearCases = [
      { T: 1, k: 576, rows: 1536 },
      { T: 1, k: 1536, rows: 576 },
      { T: 1, k: 20, rows: 7 },
      { T: 3, k: 64, rows: 100 },
      { T: 4, k: 576, rows: 300 },
      { T: 8, k: 576, rows: 1536 },
      { T: 7, k: 172, rows: 64 },
      // the register-tiled kernel (T ≥ 4): row and weight-row remainders, K tails of 4..12 floats
      { T: 64, k: 576, rows: 100 },
      { T: 13, k: 172, rows: 65 },
      { T: 5, k: 20, rows: 7 },
      { T: 66, k: 1540, rows: 31 },
    ];
    for (const c of linearCases) {
      it(`linearRows T=${c.T} k=${c.k} rows=${c.rows}, overwrite and accumulate`, () => {
        const rand = mulberry32(c.T * 1000 + c.k + c.rows);
        const [x, w, y0] = [
          randomArray(rand, c.T * c.k),
          randomArray(rand, c.rows * c.k),
          randomArray(rand, c.T * c.rows),
        ];
        const expected = refLinear(x, w, undefined, { rows: c.T, inDim: c.k, outDim: c.rows });
        const [px, pw, py] = [put(x), put(w), put(y0)];
        ops.linear([{ w: pw, x: px, y: py, rows: c.rows, k: c.k, T: c.T, accumulate: true }]);
        expectClose(
          read(py, c.T * c.rows),
          expected.map((v, i) => v + y0[i]!),
          TOL,
        );
        ops.linear([{ w: pw, x: px, y: py, rows: c.rows, k: c.k, T: c.T }]);
        expectClose(read(py, c.T * c.rows), expected, TOL);
      });
    }

    it('several linears in one job, strided rows (fused q, k, v into one [T, q+k+v] buffer)', () => {
      const rand = mulberry32(7);
      const [T, k, outs] = [3, 64, [64, 32, 32]];
      const x = randomArray(rand, T * k);
      const ws = outs.map((o) => randomArray(rand, o * k));
      const total = outs.reduce((a, b) => a + b, 0);
      const y = put(T * total);
      let col = 0;
      ops.linear(
        outs.map((o, i) => {
          const job = { w: put(ws[i]!), x: put(x), y: y + col * 4, rows: o, k, T, yStride: total * 4 };
          col += o;
          return job;
        }),
      );
      const got = read(y, T * total);
      col = 0;
      outs.forEach((o, i) => {
        const want = refLinear(x, ws[i]!, undefined, { rows: T, inDim: k, outDim: o });
        const part = Float32Array.from({ length: T * o }, (_, j) => got[Math.floor(j / o) * total + col + (j % o)]!);
        expectClose(part, want, TOL);
        col += o;
      });
    });

    it('rmsNorm: strided rows against a float64 reference', () => {
      const rand = mulberry32(12);
      const [T, n, stride] = [9, 580, 600];
      const x = randomArray(rand, T * stride).map((v) => v * 3);
      const w = randomArray(rand, n);
      const [px, pw, po] = [put(x), put(w), put(T * n)];
      ops.rmsNorm({ x: px, xStride: stride * 4, out: po, outStride: n * 4, w: pw, n, eps: 1e-5, T });
      const want = new Float32Array(T * n);
      for (let t = 0; t < T; t++) {
        let ss = 0;
        for (let i = 0; i < n; i++) ss += x[t * stride + i]! ** 2;
        const scale = 1 / Math.sqrt(ss / n + 1e-5);
        for (let i = 0; i < n; i++) want[t * n + i] = x[t * stride + i]! * scale * w[i]!;
      }
      expectClose(read(po, T * n), want, TOL);
    });

    it('siluMul: silu(gate)·up per row, strided rows, large positive and negative gates', () => {
      const rand = mulberry32(11);
      const [T, n] = [5, 1540];
      const stride = 2 * n + 8; // floats between rows: gate | up | pad
      const data = randomArray(rand, T * stride).map((v, i) => (i % 97 === 0 ? v * 400 : v * 12));
      const at = put(data);
      ops.siluMul({ gate: at, upOffset: n * 4, n, T, rowStride: stride * 4 });
      const got = read(at, T * stride);
      const want = Float32Array.from(data);
      for (let t = 0; t < T; t++) {
        for (let i = 0; i < n; i++) {
          const g = data[t * stride + i]!;
          want[t * stride + i] = (g / (1 + Math.exp(-g))) * data[t * stride + n + i]!;
        }
      }
      for (let i = 0; i < got.length; i++)
        expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(2e-6 * Math.max(1, Math.abs(want[i]!)));
    });

    const attnCases = [
      { T: 1, S: 1, heads: 9, kvHeads: 3, headDim: 64 },
      { T: 1, S: 300, heads: 9, kvHeads: 3, headDim: 64 },
      { T: 5, S: 17, heads: 8, kvHeads: 4, headDim: 8 },
      { T: 8, S: 8, heads: 4, kvHeads: 1, headDim: 16 },
    ];
    for (const c of attnCases.flatMap((x) => [
      { ...x, separate: false },
      { ...x, separate: true },
    ])) {
      it(`attention (${c.separate ? 'scores, JS softmax, values' : 'one fused job'}) T=${c.T} over ${c.S} cached positions, ${c.heads}/${c.kvHeads} heads, headDim ${c.headDim}`, () => {
        const rand = mulberry32(c.S * 31 + c.T);
        const q = randomArray(rand, c.T * c.heads * c.headDim); // [T, heads, headDim]
        const k = randomArray(rand, c.S * c.kvHeads * c.headDim); // [S, kvHeads, headDim]
        const v = randomArray(rand, c.S * c.kvHeads * c.headDim);
        const expected = refCausalAttention(q, k, v, {
          tokens: c.T,
          keys: c.S,
          heads: c.heads,
          kvHeads: c.kvHeads,
          headDim: c.headDim,
          queryOffset: c.S - c.T,
        });
        // The cache layout of the fused path: [kvHeads, capacity, headDim], capacity > S.
        const capacity = c.S + 3;
        const toHeadMajor = (a: Float32Array): Float32Array => {
          const out = new Float32Array(c.kvHeads * capacity * c.headDim);
          for (let s = 0; s < c.S; s++)
            for (let g = 0; g < c.kvHeads; g++)
              out.set(
                a.subarray((s * c.kvHeads + g) * c.headDim, (s * c.kvHeads + g + 1) * c.headDim),
                (g * capacity + s) * c.headDim,
              );
          return out;
        };
        const [kb, vb] = [put(toHeadMajor(k)), put(toHeadMajor(v))];
        const rowInfo = put(4 * c.T);
        const contexts = Array.from({ length: c.T }, (_, t) => c.S - c.T + t + 1);
        contexts.forEach((context, t) =>
          ops.writeRowInfo(rowInfo, t, { kBase: kb, vBase: vb, context, headStride: capacity * c.headDim * 4 }),
        );
        const scoreStride = capacity * 4;
        const out = put(c.T * c.heads * c.headDim);
        ops.separateSoftmax = c.separate;
        ops.attention({
          q: put(q),
          qStride: c.heads * c.headDim * 4,
          T: c.T,
          rowInfo,
          heads: c.heads,
          kvHeads: c.kvHeads,
          headDim: c.headDim,
          contexts,
          scores: put(c.T * c.heads * capacity),
          scoreStride,
          out,
          outStride: c.heads * c.headDim * 4,
          scale: 1 / Math.sqrt(c.headDim),
        });
        expectClose(read(out, c.T * c.heads * c.headDim), expected, TOL);
      });
    }

    for (const separate of [false, true])
      it(`EchoAtt (${separate ? 'JS softmax' : 'fused'}): kept probabilities equal the float64 softmax; echoValues applies them to other values`, () => {
        const [T, S, heads, kvHeads, headDim] = [6, 37, 6, 2, 16];
        const rand = mulberry32(97);
        const q = randomArray(rand, T * heads * headDim); // [T, heads, headDim]
        const k = randomArray(rand, S * kvHeads * headDim); // [S, kvHeads, headDim]
        const [v, v2] = [randomArray(rand, S * kvHeads * headDim), randomArray(rand, S * kvHeads * headDim)];
        const dims = { tokens: T, keys: S, heads, kvHeads, headDim };
        const probs = refAttentionProbabilities(q, k, { ...dims, queryOffset: S - T }); // [heads, T, S]
        const capacity = S + 5;
        const headMajor = (a: Float32Array): Float32Array => {
          const out = new Float32Array(kvHeads * capacity * headDim);
          for (let s = 0; s < S; s++)
            for (let g = 0; g < kvHeads; g++)
              out.set(
                a.subarray((s * kvHeads + g) * headDim, (s * kvHeads + g + 1) * headDim),
                (g * capacity + s) * headDim,
              );
          return out;
        };
        const [kb, vb, v2b] = [put(headMajor(k)), put(headMajor(v)), put(headMajor(v2))];
        const contexts = Array.from({ length: T }, (_, t) => S - T + t + 1);
        const [rowInfo, echoInfo] = [put(4 * T), put(4 * T)];
        const headStride = capacity * headDim * 4;
        contexts.forEach((context, t) => {
          ops.writeRowInfo(rowInfo, t, { kBase: kb, vBase: vb, context, headStride });
          ops.writeRowInfo(echoInfo, t, { kBase: 0, vBase: v2b, context, headStride }); // no keys: K is never read
        });
        const [scores, out, echoOut] = [put(T * heads * capacity), put(T * heads * headDim), put(T * heads * headDim)];
        ops.separateSoftmax = separate;
        const common = { T, heads, kvHeads, headDim, contexts, outStride: heads * headDim * 4 };
        ops.attention({
          ...common,
          q: put(q),
          qStride: heads * headDim * 4,
          rowInfo,
          scores,
          scoreStride: capacity * 4,
          out,
          scale: 1 / Math.sqrt(headDim),
          keepProbabilities: true,
        });
        const kept = read(scores, T * heads * capacity);
        const keptAsRef = new Float32Array(heads * T * S); // item (t, h) row → [h, t, s], zero past the context
        for (let t = 0; t < T; t++)
          for (let h = 0; h < heads; h++)
            for (let s = 0; s < contexts[t]!; s++)
              keptAsRef[(h * T + t) * S + s] = kept[(t * heads + h) * capacity + s]!;
        expectClose(keptAsRef, probs, TOL);
        ops.echoValues({ ...common, rowInfo: echoInfo, probs: scores, probStride: capacity * 4, out: echoOut });
        expectClose(read(echoOut, T * heads * headDim), refApplyAttentionProbabilities(probs, v2, dims), TOL);
        ops.separateSoftmax = false;
      });
  });
}
