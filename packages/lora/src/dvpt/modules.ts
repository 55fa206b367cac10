import type { AdaptedModule, DecoderConfig, LayerAdapter, LayerCall, NormName, StepRows } from '@recur/graph';
import type { tf } from '@recur/tensor';
import { LoraError } from '../init.js';
import {
  checkDvptShape,
  dvptKey,
  dvptModuleCount,
  dvptModuleIndex,
  dvptPartShape,
  dvptParts,
  type DvptShape,
} from './config.js';
import { dvptUpdate, type DvptCarry, type DvptParams } from './op.js';

/**
 * A model's DVPT modules (see op.ts): tensors by `dvptKey`, shared over steps as `shape.share` says.
 * It owns its tensors (Variables while training): `dispose()` frees them.
 */
export class DvptModules {
  constructor(
    readonly shape: DvptShape,
    readonly tensors: ReadonlyMap<string, tf.Tensor>,
  ) {
    checkDvptShape(shape);
  }

  /** Refuses modules that do not fit `config` (count, widths), naming the tensor at fault. */
  checkFits(config: DecoderConfig, source: string): void {
    const count = dvptModuleCount(this.shape.share, config);
    const expected = new Set<string>();
    for (let m = 0; m < count; m++)
      for (const part of dvptParts) {
        const key = dvptKey(m, part);
        expected.add(key);
        const want = dvptPartShape(this.shape, config.hiddenSize, part);
        const t = this.tensors.get(key);
        if (!t)
          throw new LoraError(
            `${source}: missing DVPT tensor ${key} (share ${this.shape.share} needs ${count} modules)`,
          );
        if (t.shape.join('x') !== want.join('x'))
          throw new LoraError(`${source}: DVPT tensor ${key} has shape [${t.shape}], the model needs [${want}]`);
      }
    const extra = [...this.tensors.keys()].find((key) => !expected.has(key));
    if (extra)
      throw new LoraError(`${source}: unexpected DVPT tensor ${extra} (share ${this.shape.share}, ${count} modules)`);
  }

  /** Parameters of the module that step `call` uses. */
  params(call: LayerCall): DvptParams {
    const m = dvptModuleIndex(this.shape.share, call);
    const get = (part: (typeof dvptParts)[number]) => {
      const t = this.tensors.get(dvptKey(m, part));
      if (!t) throw new LoraError(`no DVPT tensor ${dvptKey(m, part)} for step ${call.step}`);
      return t as tf.Tensor2D;
    };
    return { down: get('down_proj.weight'), up: get('up_proj.weight'), prompts: get('prompts') };
  }

  /** h [T, d] → h + this step's update, carrying the prompts' attention to the sequence's next call. */
  apply(call: LayerCall, h: tf.Tensor2D, rows: StepRows): tf.Tensor2D {
    const { positions } = rows;
    const first = positions[0] ?? 0;
    if (positions.length > 0 && positions[positions.length - 1]! - first !== positions.length - 1)
      throw new LoraError('DVPT runs on consecutive positions of one sequence (per-token depth is not supported)');
    const key = `dvpt.step${call.step}`;
    const carried = rows.state?.get(key);
    let carry: DvptCarry | undefined;
    if (first > 0) {
      if (carried?.upTo !== first)
        throw new LoraError(
          `DVPT at position ${first} needs the prompts' attention over positions 0…${first - 1}: continue a sequence through its own KvCache`,
        );
      carry = { logSumExp: carried.tensors[0] as tf.Tensor1D, gathered: carried.tensors[1] as tf.Tensor2D };
    }
    const result = dvptUpdate(h, this.params(call), carry);
    rows.state?.set(key, [result.carry.logSumExp, result.carry.gathered], first + positions.length);
    return result.out;
  }

  get parameterCount(): number {
    return [...this.tensors.values()].reduce((n, t) => n + t.size, 0);
  }

  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
  }
}

/**
 * `inner` (a model's own LoRA and norms, or nothing) with DVPT after every step: projections and norms
 * are inner's, and each step's output goes through inner's afterStep, then the DVPT module's.
 */
export function withDvpt(modules: DvptModules, inner?: LayerAdapter): LayerAdapter {
  return {
    adapt: (module: AdaptedModule, call: LayerCall, x: tf.Tensor2D, y: tf.Tensor2D) =>
      inner ? inner.adapt(module, call, x, y) : y,
    norm: (name: NormName, call: LayerCall) => inner?.norm?.(name, call),
    afterStep: (call: LayerCall, h: tf.Tensor2D, rows: StepRows) =>
      modules.apply(call, inner?.afterStep ? inner.afterStep(call, h, rows) : h, rows),
  };
}
