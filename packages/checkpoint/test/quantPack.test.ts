import { describe, expect, it } from 'vitest';
import { decodeGgml } from '../src/gguf/decode.js';
import { encodeGgml } from '../src/gguf/encode.js';
import { interleavedSourceRow, unpermuteRopeRows } from '../src/gguf/permute.js';
import { packQuantRows } from '../src/gguf/quant/pack.js';

/** Packed rows back to float32, as the fast path's kernels read them. */
function unpack(p: ReturnType<typeof packQuantRows>): Float32Array {
  const [rows, k] = p.shape;
  const out = new Float32Array(rows * k);
  const q8 = new Int8Array(p.quants.buffer);
  for (let i = 0; i < rows * k; i++) {
    const [block, j] = [Math.floor(i / 32), i % 32];
    const scale = p.scales[block]!;
    if (p.format === 'q8_0') out[i] = scale * q8[i]!;
    else {
      const byte = p.quants[block * 16 + (j % 16)]!;
      out[i] = scale * ((j < 16 ? byte & 15 : byte >> 4) - 8);
    }
  }
  return out;
}

describe('packQuantRows', () => {
  const [rows, k, heads] = [16, 64, 2];
  const values = Float32Array.from({ length: rows * k }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)));
  it.each(['Q8_0', 'Q4_0'] as const)('%s: the packed rows are exactly the decoded tensor, in any row order', (type) => {
    const bytes = encodeGgml(type, values);
    const decoded = decodeGgml(type, bytes, rows * k);
    const packed = packQuantRows(type, bytes, [rows, k]);
    expect(packed.quants.byteLength).toBe((rows * k) / (type === 'Q8_0' ? 1 : 2));
    expect(packed.scales.length).toBe((rows * k) / 32);
    expect(unpack(packed)).toEqual(decoded);
    // q/k rows: reordering the blocks equals un-permuting the decoded rows
    const reordered = packQuantRows(type, bytes, [rows, k], (r) => interleavedSourceRow(r, heads, rows));
    expect(unpack(reordered)).toEqual(unpermuteRopeRows(decoded, heads, k));
  });
});
