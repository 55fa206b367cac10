import { describe, expect, it } from 'vitest';
import { LinearParams, linearPacked, packPanels, relaxedSimdProbe } from '../src/fused/kernels/index.js';
import { refLinear } from '../src/reference/index.js';
import { kernelModule } from '../src/wasm/encode.js';
import { expectClose } from './helpers/close.js';
import { mulberry32, randomArray } from './helpers/prng.js';

type Kernel = (p: number, start: number, end: number) => void;

/**
 * packPanels + linearPacked (the outer-product GEMM tuning variant) against the reference: panel
 * and weight-row remainders, strided input and output rows, accumulation, and a split of the weight
 * rows between two calls (the split must not matter), for tiles that store by transpose (4 rows) and
 * lane by lane (3 rows), with mul + add and with relaxed-SIMD FMA where this Node validates it.
 */
describe('linearPacked kernel', () => {
  const cases = [
    { T: 64, k: 576, rows: 100 },
    { T: 7, k: 20, rows: 8 },
    { T: 2, k: 36, rows: 5 },
    { T: 11, k: 1540, rows: 31 },
    { T: 37, k: 44, rows: 9 },
  ];
  const tiles = [
    { MR: 4, NV: 2, unroll: 1 },
    { MR: 3, NV: 3, unroll: 8 }, // K = 20, 36, 44, 1540: the one-step loop takes the rest
  ];
  for (const fma of [false, true]) {
    for (const { MR, NV, unroll } of tiles) {
      it(`${MR}×${NV} unroll ${unroll}, ${fma ? 'relaxed-SIMD FMA' : 'mul + add'}`, async () => {
        if (fma && !WebAssembly.validate(relaxedSimdProbe())) {
          const v8 = await import('node:v8');
          v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
        }
        const memory = new WebAssembly.Memory({ initial: 128 });
        const bytes = kernelModule([linearPacked(MR, NV, 'gemm', fma, unroll), packPanels(NV)], false);
        const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
        const [gemm, pack] = [exports.gemm as Kernel, exports.packPanels as Kernel];
        for (const c of cases) {
          const rand = mulberry32(c.T * 13 + c.rows);
          const [xPad, yPad] = [8, 12]; // floats between rows: strided x and y
          const [xs, ys] = [c.k + xPad, c.rows + yPad];
          const [x, w, y0] = [
            randomArray(rand, c.T * xs),
            randomArray(rand, c.rows * c.k),
            randomArray(rand, c.T * ys),
          ];
          const [X, W] = [64, 64 + x.length * 4];
          const Y = W + w.length * 4;
          const Packed = Y + y0.length * 4;
          const f32 = new Float32Array(memory.buffer);
          const i32 = new Int32Array(memory.buffer);
          f32.set(x, X / 4);
          f32.set(w, W / 4);
          f32.set(y0, Y / 4);
          const params = { W, X, Y, K: c.k, T: c.T, XStride: xs * 4, YStride: ys * 4, Accumulate: 1, Packed };
          for (const [key, v] of Object.entries(params)) i32[LinearParams[key as keyof typeof LinearParams]] = v;
          const panels = Math.ceil(c.T / (4 * NV));
          pack(0, 0, 1);
          pack(0, 1, panels);
          gemm(0, 0, Math.min(c.rows, 5));
          gemm(0, Math.min(c.rows, 5), c.rows);
          const dense = Array.from({ length: c.T }, (_, t) => x.slice(t * xs, t * xs + c.k));
          const expected = refLinear(Float32Array.from(dense.flatMap((r) => [...r])), w, undefined, {
            rows: c.T,
            inDim: c.k,
            outDim: c.rows,
          });
          const got = f32.slice(Y / 4, Y / 4 + c.T * ys);
          // columns past `rows` (the padding between y rows) must be untouched
          const written = Array.from({ length: c.T }, (_, t) => [...got.slice(t * ys, t * ys + c.rows)]).flat();
          const padding = Array.from({ length: c.T }, (_, t) => [...got.slice(t * ys + c.rows, (t + 1) * ys)]).flat();
          const padding0 = Array.from({ length: c.T }, (_, t) => [...y0.slice(t * ys + c.rows, (t + 1) * ys)]).flat();
          const base = Array.from({ length: c.T }, (_, t) => [...y0.slice(t * ys, t * ys + c.rows)]).flat();
          expectClose(
            Float32Array.from(written),
            expected.map((v, i) => v + base[i]!),
            1e-5,
          );
          expect(padding).toEqual(padding0);
        }
      });
    }
  }
});
