import { ins, set, zeroV } from '../../wasm/asm.js';
import { V128, kernelModule } from '../../wasm/encode.js';
import { linearRows } from './linearRows.js';
import { linearTiled, tileFor } from './linearTiled.js';
import { attnScores, attnValues } from './attentionSplit.js';
import { attention } from './attention.js';
import { attentionTiled } from './attentionTiled.js';
import { siluMul } from './silu.js';
import { rmsNorm } from './rmsNorm.js';
import { ropeStore } from './ropeStore.js';
import { linearQuantRows } from './linearQuantRows.js';
import { dequantRows } from './dequantRows.js';
import { linearQuantTiled } from './linearQuantTiled.js';
import { quantizeRows } from './quantizeRows.js';

/**
 * The fused decode kernels, wasm SIMD emitted from TypeScript. Every kernel is
 * `fn(params, start, end)`: `params` is the byte offset of an i32 block in memory (layouts in
 * params.ts; all pointers are byte offsets, all data float32), and [start, end) is the range of work items a
 * thread claimed, so one generic worker loop runs any of them. Row widths must be multiples of 4.
 */
export const KERNEL_NAMES = [
  'linearRows',
  'attnScores',
  'attnValues',
  'attention',
  'linearTiled',
  'siluMul',
  'rmsNorm',
  'ropeStore',
  'linearQ8Rows',
  'linearQ4Rows',
  'dequantQ8Rows',
  'dequantQ4Rows',
  'attentionTiled',
  'linearQ8Tiled',
  'quantizeRows',
  /** Only in a module with relaxed SIMD (`fma`); QuantLinear uses the panel path without it. */
  'linearQ4Tiled',
] as const;
export type KernelName = (typeof KERNEL_NAMES)[number];

/**
 * The kernel module's bytes; `shared` must match the memory it will import; `fma`: linearTiled uses
 * relaxed-SIMD fused multiply-adds (the module then needs relaxed SIMD to validate).
 */
export function fusedModuleBytes(shared: boolean, fma = false): Uint8Array<ArrayBuffer> {
  const { MT, NR } = tileFor(fma);
  return kernelModule(
    [
      linearRows(),
      attnScores(),
      attnValues(),
      attention(fma),
      linearTiled(MT, NR, 'linearTiled', fma),
      siluMul(),
      rmsNorm(),
      ropeStore(),
      linearQuantRows('q8_0'),
      linearQuantRows('q4_0'),
      dequantRows('q8_0'),
      dequantRows('q4_0'),
      attentionTiled(fma),
      linearQuantTiled('q8_0', fma),
      quantizeRows(),
      ...(fma ? [linearQuantTiled('q4_0', fma)] : []),
    ],
    shared,
  );
}

/** A tiny module using f32x4.relaxed_madd: validates only where relaxed SIMD is on. */
export function relaxedSimdProbe(): Uint8Array<ArrayBuffer> {
  return kernelModule(
    [
      {
        name: 'probe',
        params: 0,
        locals: [V128],
        body: [...zeroV, ...zeroV, ...zeroV, ...ins.f32x4RelaxedMadd, ...set(0)],
      },
    ],
    false,
  );
}
