import { CheckpointError } from '../errors.js';
import type { ModelConfig } from '../config/model-config.js';
import { ggufToHfName, ropePermutedHeads } from '../gguf/naming.js';
import { interleavedSourceRow, unpermuteRopeRows } from '../gguf/permute.js';
import { isPackableQuant, packQuantRows } from '../gguf/quant/pack.js';
import type { GgufFile } from '../gguf/reader.js';
import type { TensorInfo, TensorStore } from '../tensor-info.js';

/**
 * A GGUF file seen as a Hugging Face checkpoint: tensors renamed to HF keys, and q/k rows put
 * back into the rotate-half layout as they are read.
 */
export function ggufAsHf(gguf: GgufFile, config: ModelConfig): TensorStore {
  const ggufName = new Map<string, string>();
  const tensors: TensorInfo[] = [];
  for (const t of gguf.tensors) {
    const hf = ggufToHfName(t.name);
    if (ggufName.has(hf))
      throw new CheckpointError(
        'duplicate-tensor',
        gguf.file,
        `tensors "${ggufName.get(hf)}" and "${t.name}" both map to "${hf}"`,
      );
    ggufName.set(hf, t.name);
    tensors.push({ ...t, name: hf });
  }
  const shapes = new Map(tensors.map((t) => [t.name, t.shape]));
  return {
    file: gguf.file,
    tensors,
    has: (name) => ggufName.has(name),
    read: async (name) => {
      const source = ggufName.get(name);
      if (source === undefined) throw new CheckpointError('missing-tensor', gguf.file, `no tensor maps to "${name}"`);
      const data = await gguf.read(source);
      const heads = ropePermutedHeads(name, config.numHeads, config.numKvHeads);
      return heads === undefined ? data : unpermute(gguf.file, name, data, shapes.get(name)!, heads);
    },
    readQuantized: async (name) => {
      const source = ggufName.get(name);
      const shape = shapes.get(name);
      if (source === undefined || shape?.length !== 2) return undefined;
      const { dtype, bytes } = await gguf.readRaw(source);
      if (!isPackableQuant(dtype)) return undefined;
      const [rows, cols] = shape as [number, number];
      const heads = ropePermutedHeads(name, config.numHeads, config.numKvHeads);
      if (heads !== undefined && rows % (2 * heads) !== 0) return undefined; // read() reports it
      const order = heads === undefined ? undefined : (r: number): number => interleavedSourceRow(r, heads, rows);
      return packQuantRows(dtype, bytes, [rows, cols], order);
    },
    close: () => gguf.close(),
  };
}

function unpermute(
  file: string,
  name: string,
  data: Float32Array,
  shape: readonly number[],
  heads: number,
): Float32Array {
  const rows = shape[0] ?? 1;
  const cols = shape.length > 1 ? data.length / rows : 1;
  if (rows % (2 * heads) !== 0) {
    throw new CheckpointError(
      'shape-mismatch',
      file,
      `tensor "${name}" has ${rows} rows, which cannot split into ${heads} heads of even size`,
    );
  }
  return unpermuteRopeRows(data, heads, cols);
}
