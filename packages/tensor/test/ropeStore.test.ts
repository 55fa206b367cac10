import { describe, expect, it } from 'vitest';
import { KvWrite, RopeParams, fusedModuleBytes } from '../src/fused/kernels/index.js';
import { mulberry32, randomArray } from './helpers/prng.js';

type Kernel = (p: number, start: number, end: number) => void;

/** Rotate-half RoPE of one row's heads as plain JS does it: float64 products, one rounding to float32. */
function ropeReference(
  x: Float32Array,
  heads: number,
  hd: number,
  cos: ArrayLike<number>,
  sin: ArrayLike<number>,
): void {
  const half = hd / 2;
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < half; i++) {
      const [x1, x2] = [x[h * hd + i]!, x[h * hd + half + i]!];
      x[h * hd + i] = x1 * cos[i]! - x2 * sin[i]!;
      x[h * hd + half + i] = x2 * cos[i]! + x1 * sin[i]!;
    }
}

/**
 * ropeStore against the JS reference, bitwise: q and k of every row rotated with that row's table,
 * v untouched, and K/V copied into the cache for the rows that write (kv heads `headStride` apart)
 * and nowhere for the row that does not.
 */
describe('ropeStore kernel', () => {
  it('rotates q and k per row and writes K/V where asked, bitwise as plain JS', () => {
    const [T, heads, kvHeads, hd] = [5, 6, 2, 20]; // half a head = 10: two 4-pair steps and two single pairs
    const qkvDim = (heads + 2 * kvHeads) * hd;
    const rand = mulberry32(3);
    const qkv = randomArray(rand, T * qkvDim);
    const tables = Float32Array.from({ length: T * hd }, (_, i) => Math.cos(i * 0.7 + (i % hd) * 0.1));
    const positions = 16;
    const headStride = positions * hd * 4;
    const memory = new WebAssembly.Memory({ initial: 4 });
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(fusedModuleBytes(false)), {
      env: { memory },
    });
    const run = exports.ropeStore as Kernel;
    const [P, QKV] = [64, 256];
    const ROPE = QKV + qkv.length * 4;
    const KW = ROPE + tables.length * 4;
    const [KC, VC] = [KW + T * 16, KW + T * 16 + kvHeads * headStride];
    const f32 = new Float32Array(memory.buffer);
    const i32 = new Int32Array(memory.buffer);
    f32.set(qkv, QKV / 4);
    f32.set(tables, ROPE / 4);
    const params = {
      Qkv: QKV,
      QkvStride: qkvDim * 4,
      Heads: heads,
      KvHeads: kvHeads,
      HeadBytes: hd * 4,
      Rope: ROPE,
      KvWrite: KW,
    };
    for (const [key, v] of Object.entries(params)) i32[P / 4 + RopeParams[key as keyof typeof RopeParams]] = v;
    const entries = [3, 0, -1, 7, 15]; // row 2 writes nothing
    entries.forEach((e, t) => {
      const b = KW / 4 + t * KvWrite.Size;
      i32[b + KvWrite.Writes] = e >= 0 ? 1 : 0;
      i32[b + KvWrite.K] = KC + Math.max(e, 0) * hd * 4;
      i32[b + KvWrite.V] = VC + Math.max(e, 0) * hd * 4;
      i32[b + KvWrite.HeadStride] = headStride;
    });
    run(P, 0, 2);
    run(P, 2, T);
    const expected = Float32Array.from(qkv);
    const kCache = new Float32Array(kvHeads * positions * hd);
    const vCache = new Float32Array(kvHeads * positions * hd);
    for (let t = 0; t < T; t++) {
      const [cos, sin] = [tables.subarray(t * hd, t * hd + hd / 2), tables.subarray(t * hd + hd / 2, (t + 1) * hd)];
      const row = expected.subarray(t * qkvDim, (t + 1) * qkvDim);
      ropeReference(row.subarray(0, heads * hd), heads, hd, cos, sin);
      ropeReference(row.subarray(heads * hd, (heads + kvHeads) * hd), kvHeads, hd, cos, sin);
      const e = entries[t]!;
      if (e < 0) continue;
      for (let g = 0; g < kvHeads; g++) {
        const at = g * positions * hd + e * hd;
        kCache.set(row.subarray((heads + g) * hd, (heads + g + 1) * hd), at);
        vCache.set(row.subarray((heads + kvHeads + g) * hd, (heads + kvHeads + g + 1) * hd), at);
      }
    }
    expect(f32.slice(QKV / 4, QKV / 4 + qkv.length)).toEqual(expected);
    expect(f32.slice(KC / 4, KC / 4 + kCache.length)).toEqual(kCache);
    expect(f32.slice(VC / 4, VC / 4 + vCache.length)).toEqual(vCache);
  });
});
