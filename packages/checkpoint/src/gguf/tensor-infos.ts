import { CheckpointError } from '../errors.js';
import type { ByteCursor } from '../bytes/cursor.js';
import { elementCount, formatShape } from '../tensor-info.js';
import { readString } from './read-values.js';
import { ggmlTypeById } from './types.js';

/** ggml tensors have at most 4 dimensions. */
const maxDims = 4;

export interface GgufTensorInfo {
  readonly name: string;
  /** ggml order: innermost (contiguous) dimension first. */
  readonly ne: number[];
  /** Outermost first, i.e. `ne` reversed (a weight with ne = [in, out] has shape [out, in]). */
  readonly shape: number[];
  readonly dtype: string;
  readonly elements: number;
  /** Relative to the start of the data area. */
  readonly offset: number;
  readonly byteSize: number;
}

export async function readTensorInfos(c: ByteCursor, count: number): Promise<GgufTensorInfo[]> {
  const infos: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < count; i++) {
    const info = await readTensorInfo(c, i);
    if (names.has(info.name))
      throw new CheckpointError('duplicate-tensor', c.file, `tensor "${info.name}" is listed twice`);
    names.add(info.name);
    infos.push(info);
  }
  return infos;
}

async function readTensorInfo(c: ByteCursor, index: number): Promise<GgufTensorInfo> {
  const name = await readString(c, `name of tensor #${index}`);
  await c.need(4, `dimension count of tensor "${name}"`);
  const nDims = c.u32();
  if (nDims > maxDims)
    throw new CheckpointError(
      'bad-shape',
      c.file,
      `tensor "${name}" has ${nDims} dimensions; ggml allows at most ${maxDims}`,
    );
  await c.need(8 * nDims + 4 + 8, `shape, type and offset of tensor "${name}"`);
  const ne: number[] = [];
  for (let d = 0; d < nDims; d++) ne.push(safeNumber(c, c.u64(), 'bad-shape', `dimension ${d} of tensor "${name}"`));
  const typeId = c.u32();
  const offset = safeNumber(c, c.u64(), 'offset-out-of-range', `data offset of tensor "${name}"`);
  const type = ggmlTypeById(typeId);
  if (!type)
    throw new CheckpointError(
      'unknown-dtype',
      c.file,
      `tensor "${name}" has ggml type ${typeId}, which this reader does not know`,
    );
  const elements = elementCount(ne, c.remaining * type.blockSize);
  if (!Number.isFinite(elements))
    throw new CheckpointError(
      'bad-shape',
      c.file,
      `tensor "${name}" has shape ne=${formatShape(ne)}, more elements than the file can hold`,
    );
  if ((ne[0] ?? 1) % type.blockSize !== 0) {
    throw new CheckpointError(
      'bad-shape',
      c.file,
      `tensor "${name}" is ${type.name} (blocks of ${type.blockSize}) but its row length is ${ne[0]}`,
    );
  }
  const byteSize = (elements / type.blockSize) * type.blockBytes;
  return { name, ne, shape: [...ne].reverse(), dtype: type.name, elements, offset, byteSize };
}

function safeNumber(c: ByteCursor, value: bigint, code: 'bad-shape' | 'offset-out-of-range', what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER))
    throw new CheckpointError(code, c.file, `${what} is ${value}, beyond any file size`);
  return Number(value);
}
