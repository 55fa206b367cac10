import type { DecoderConfig } from '@recur/graph';
import { gaussianArray } from '@recur/tensor';
import type { ArrayTensor } from '../init.js';
import { checkDvptShape, dvptKey, dvptModuleCount, dvptPartShape, dvptParts, type DvptShape } from './config.js';

/**
 * New DVPT modules for `config`: down Gaussian scaled by 1/√d (so z has unit-scale entries from a
 * unit-RMS input), prompts standard Gaussian (scores of order 1 after the 1/√b scale), up zero, so the
 * adapted model starts equal to its base (as a fresh LoRA's B = 0 does).
 */
export function freshDvpt(config: DecoderConfig, shape: DvptShape, seed = 0): Map<string, ArrayTensor> {
  checkDvptShape(shape);
  const out = new Map<string, ArrayTensor>();
  let drawn = 0;
  for (let m = 0; m < dvptModuleCount(shape.share, config); m++) {
    for (const part of dvptParts) {
      const partShape = dvptPartShape(shape, config.hiddenSize, part);
      const size = partShape[0] * partShape[1];
      const draw = () => gaussianArray(size, seed * 10_007 + drawn++);
      const data =
        part === 'up_proj.weight'
          ? new Float32Array(size)
          : part === 'down_proj.weight'
            ? draw().map((v) => v / Math.sqrt(config.hiddenSize))
            : draw();
      out.set(dvptKey(m, part), { data, shape: partShape });
    }
  }
  return out;
}
