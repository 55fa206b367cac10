import { adaptedModules, type AdaptedModule, type LayerAdapter, type LayerCall, type NormName } from '@recur/graph';
import { tf } from '@recur/tensor';
import { DepthwiseLora } from '../depthwiseLora.js';
import { LoraError, type ArrayTensor } from '../init.js';
import { loopNormKey, loraKey } from '../keys.js';
import { mosGather } from './gather.js';
import { mosIndexKey, mosPoolKey } from './keys.js';
import { mosModuleLayout, type MosTables } from './layout.js';
import type { MosSection } from './settings.js';

/**
 * MoS LoRA (Wang et al. 2024, arXiv 2410.00938) as a layer adapter: the pools are the parameters, and
 * each call gathers its step's A and B from them (what training needs: gradients reach the shared
 * shards). Runners that want plain factors call `materialise()` once (load, export, the fast path).
 */
export class MosLora implements LayerAdapter {
  private readonly rows = new Map<string, number>();

  /**
   * @param pools the shard pools by `mosPoolKey` (owned: `dispose()` frees them, as it does `norms`)
   * @param tables each module's layout and index tables
   * @param norms per-loop norm weights by `loopNormKey` (`--norms per-loop`), else empty
   */
  constructor(
    readonly pools: ReadonlyMap<string, tf.Tensor>,
    readonly tables: ReadonlyMap<AdaptedModule, MosTables>,
    readonly section: MosSection,
    readonly norms: ReadonlyMap<string, tf.Tensor>,
    readonly scale = 1,
  ) {
    for (const [s, [unique, loop]] of section.steps.entries()) this.rows.set(`${unique}:${loop}`, s);
  }

  /**
   * From a saved model's tensors (pools, index tables as F32, per-loop norms) and its section; every
   * table is checked against the section's layout (LoraError naming the tensor at fault).
   */
  static fromArrays(arrays: ReadonlyMap<string, ArrayTensor>, section: MosSection, scale = 1): MosLora {
    const tables = new Map<AdaptedModule, MosTables>();
    for (const module of adaptedModules) {
      const poolA = arrays.get(mosPoolKey(module, 'A'));
      if (!poolA) continue;
      const poolB = required(arrays, mosPoolKey(module, 'B'));
      const indexA = required(arrays, mosIndexKey(module, 'A'));
      const slots = indexA.shape[1] ?? 0;
      const shape = [(poolB.shape[1] ?? 0) * section.shards, (poolA.shape[1] ?? 0) * section.shards] as const;
      const layout = mosModuleLayout(module, shape, slots / section.shards, section, section.steps.length);
      const table = (factor: 'A' | 'B') =>
        checkedTable(arrays, mosIndexKey(module, factor), section.steps.length, slots, layout.poolRows);
      for (const [key, pool] of [
        [mosPoolKey(module, 'A'), poolA],
        [mosPoolKey(module, 'B'), poolB],
      ] as const)
        if (pool.shape[0] !== layout.poolRows)
          throw new LoraError(`${key} has ${pool.shape[0]} rows; the mos section's settings give ${layout.poolRows}`);
      tables.set(module, { layout, a: table('A'), b: table('B') });
    }
    const tensors = (keep: (key: string) => boolean) =>
      new Map(
        [...arrays].filter(([key]) => keep(key)).map(([key, t]) => [key, tf.tensor(t.data, [...t.shape], 'float32')]),
      );
    const pools = tensors((key) => key.endsWith('.pool'));
    const norms = tensors((key) => !key.startsWith('mos.'));
    return new MosLora(pools, tables, section, norms, scale);
  }

  adapt(module: AdaptedModule, call: LayerCall, x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D {
    const factors = this.factors(module, call.unique, call.loop);
    if (!factors) return y;
    const low = tf.matMul(x, factors.a, false, true); // [T, r]
    const delta = tf.matMul(low, factors.b, false, true); // [T, out]
    return tf.add(y, this.scale === 1 ? delta : tf.mul(delta, this.scale)) as tf.Tensor2D;
  }

  /** A [r, in] and B [out, r] of one step's module, gathered now (the caller's tidy owns them). */
  factors(module: AdaptedModule, unique: number, loop: number): { a: tf.Tensor2D; b: tf.Tensor2D } | undefined {
    const row = this.rows.get(`${unique}:${loop}`);
    const table = this.tables.get(module);
    if (row === undefined || !table) return undefined;
    const { slots, rank } = table.layout;
    const pool = (factor: 'A' | 'B') => this.pools.get(mosPoolKey(module, factor)) as tf.Tensor2D;
    return {
      a: mosGather(pool('A'), table.a.subarray(row * slots, (row + 1) * slots), rank, 'A'),
      b: mosGather(pool('B'), table.b.subarray(row * slots, (row + 1) * slots), rank, 'B'),
    };
  }

  norm(name: NormName, call: LayerCall): tf.Tensor1D | undefined {
    return this.norms.get(loopNormKey(call.unique, name, call.loop)) as tf.Tensor1D | undefined;
  }

  /** Every step's factors gathered once, plus copies of the norms, as a plain depth-wise LoRA (owned by the caller). */
  materialise(): DepthwiseLora {
    const tensors = new Map<string, tf.Tensor>();
    for (const [unique, loop] of this.section.steps)
      for (const module of this.tables.keys()) {
        const factors = tf.tidy(() => this.factors(module, unique, loop)!);
        tensors.set(loraKey(unique, module, loop, 'A'), factors.a);
        tensors.set(loraKey(unique, module, loop, 'B'), factors.b);
      }
    for (const [key, t] of this.norms) tensors.set(key, tf.clone(t));
    return new DepthwiseLora(tensors, this.scale);
  }

  /** The index tables as a saved model stores them: F32 [steps, slots] by `mosIndexKey` (exact below 2²⁴). */
  indexArrays(): Map<string, ArrayTensor> {
    const out = new Map<string, ArrayTensor>();
    for (const [module, { a, b, layout }] of this.tables)
      for (const [factor, table] of [
        ['A', a],
        ['B', b],
      ] as const)
        out.set(mosIndexKey(module, factor), {
          data: Float32Array.from(table),
          shape: [this.section.steps.length, layout.slots],
        });
    return out;
  }

  /** Unique adapter parameters: the pools and per-loop norms (index tables are integers, not parameters). */
  get parameterCount(): number {
    let total = 0;
    for (const t of [...this.pools.values(), ...this.norms.values()]) total += t.size;
    return total;
  }

  dispose(): void {
    for (const t of [...this.pools.values(), ...this.norms.values()]) t.dispose();
  }
}

function required(arrays: ReadonlyMap<string, ArrayTensor>, key: string): ArrayTensor {
  const found = arrays.get(key);
  if (!found) throw new LoraError(`a MoS model needs tensor ${key}, which it lacks`);
  return found;
}

/** An index table read back: [steps, slots] of integers in [0, poolRows). */
function checkedTable(
  arrays: ReadonlyMap<string, ArrayTensor>,
  key: string,
  steps: number,
  slots: number,
  poolRows: number,
): Int32Array {
  const { data, shape } = required(arrays, key);
  if (shape[0] !== steps || shape[1] !== slots)
    throw new LoraError(`${key} has shape [${shape.join(', ')}], expected [${steps}, ${slots}]`);
  const bad = data.findIndex((v) => !Number.isInteger(v) || v < 0 || v >= poolRows);
  if (bad >= 0)
    throw new LoraError(`${key}[${bad}] = ${data[bad]} is not a pool row (an integer in 0..${poolRows - 1})`);
  return Int32Array.from(data);
}
