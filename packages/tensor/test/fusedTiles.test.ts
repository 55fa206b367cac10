import { describe, expect, it } from 'vitest';
import { LinearParams, fusedModuleBytes, relaxedSimdProbe } from '../src/fused/kernels/index.js';
import { refLinear } from '../src/reference/index.js';
import { expectClose } from './helpers/close.js';
import { mulberry32, randomArray } from './helpers/prng.js';

/**
 * linearTiled of both kernel modules (mul + add, and relaxed-SIMD FMA where this Node validates
 * it) on a plain memory: every tile height and width remainder against the reference.
 */
describe('linearTiled kernel modules', () => {
  const cases = [
    { T: 64, k: 576, rows: 100 },
    { T: 7, k: 20, rows: 8 },
    { T: 2, k: 36, rows: 5 },
    { T: 11, k: 1540, rows: 31 },
  ];
  for (const fma of [false, true]) {
    it(`${fma ? 'relaxed-SIMD FMA' : 'mul + add'}: T, rows and K remainders`, async () => {
      if (fma && !WebAssembly.validate(relaxedSimdProbe())) {
        const v8 = await import('node:v8');
        v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
      }
      const memory = new WebAssembly.Memory({ initial: 64 });
      const { exports } = new WebAssembly.Instance(new WebAssembly.Module(fusedModuleBytes(false, fma)), {
        env: { memory },
      });
      const run = exports.linearTiled as (p: number, a: number, b: number) => void;
      for (const c of cases) {
        const rand = mulberry32(c.T * 7 + c.rows);
        const [x, w, y0] = [
          randomArray(rand, c.T * c.k),
          randomArray(rand, c.rows * c.k),
          randomArray(rand, c.T * c.rows),
        ];
        const [X, W] = [64, 64 + x.length * 4];
        const Y = W + w.length * 4;
        const f32 = new Float32Array(memory.buffer);
        const i32 = new Int32Array(memory.buffer);
        f32.set(x, X / 4);
        f32.set(w, W / 4);
        f32.set(y0, Y / 4);
        Object.entries({ W, X, Y, K: c.k, T: c.T, XStride: c.k * 4, YStride: c.rows * 4, Accumulate: 1 }).forEach(
          ([key, v]) => (i32[LinearParams[key as keyof typeof LinearParams]] = v),
        );
        // two calls splitting the weight rows unevenly: the split must not matter
        run(0, 0, Math.min(c.rows, 4));
        run(0, Math.min(c.rows, 4), c.rows);
        const expected = refLinear(x, w, undefined, { rows: c.T, inDim: c.k, outDim: c.rows });
        expectClose(
          f32.slice(Y / 4, Y / 4 + c.T * c.rows),
          expected.map((v, i) => v + y0[i]!),
          1e-5,
        );
      }
      expect(true).toBe(true);
    });
  }
});
