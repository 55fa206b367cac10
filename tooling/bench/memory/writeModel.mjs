// node writeModel.mjs OUT.gguf — writes a random-weight model in the Llama-3.2-1B shape through
// Recur's streamed GGUF writer: each tensor is generated when the writer reaches it, so writing
// ≈ 4.9 GB holds one tensor (the 1 GB embedding at most), never the model.
import { writeGgufModel } from '../../../packages/engine/dist/node.js';
import { decoderWeightSpecs } from '../../../packages/graph/dist/index.js';
import { llama1bShape } from './shape.mjs';

const [out] = process.argv.slice(2);
if (!out) throw new Error('usage: node writeModel.mjs OUT.gguf');
const shapes = new Map(decoderWeightSpecs(llama1bShape).map((spec) => [spec.name, spec.shape]));
let seed = 1;
/** @type {Pick<ReadonlyMap<string, Float32Array>, 'get'>} */
const arrays = {
  get: (name) => {
    const shape = shapes.get(name);
    if (!shape) return undefined;
    const size = shape.reduce((a, b) => a * b, 1);
    if (name.endsWith('norm.weight')) return new Float32Array(size).fill(1);
    return uniform(size, seed++, 0.02);
  },
};
const written = await writeGgufModel({ config: llama1bShape, arrays }, out, { dtype: 'F32', tokenizer: 'placeholder' });
process.stdout.write(`${JSON.stringify(written)}\n`);

/**
 * Values uniform in [−scale, scale] from a xorshift32 stream: fast enough for 1.2 G values.
 * @param {number} size @param {number} seed @param {number} scale
 */
function uniform(size, seed, scale) {
  const out = new Float32Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) / 4294967296 - 0.5) * 2 * scale;
  }
  return out;
}
