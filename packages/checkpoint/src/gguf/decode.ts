import { CheckpointError } from '../errors.js';
import { decodeBF16, decodeF16 } from '../bytes/half.js';
import { decodeF32 } from '../bytes/f32.js';
import { decodeQ4_0 } from './quant/q4_0.js';
import { decodeQ4_K } from './quant/q4_k.js';
import { decodeQ5_K } from './quant/q5_k.js';
import { decodeQ6_K } from './quant/q6_k.js';
import { decodeQ8_0 } from './quant/q8_0.js';
import { ggmlTypeByName } from './types.js';

type Decoder = (bytes: Uint8Array, count: number) => Float32Array;

/** Every ggml type this package turns into float32; quantized ones are dequantized here, at load. */
const decoders: ReadonlyMap<string, Decoder> = new Map([
  ['F32', decodeF32],
  ['F16', decodeF16],
  ['BF16', decodeBF16],
  ['Q8_0', decodeQ8_0],
  ['Q4_0', decodeQ4_0],
  ['Q4_K', decodeQ4_K],
  ['Q5_K', decodeQ5_K],
  ['Q6_K', decodeQ6_K],
]);

export const decodableGgmlTypes: ReadonlySet<string> = new Set(decoders.keys());

/** Where a decode happens, for error messages: the file and the tensor in it. */
export interface DecodeSite {
  readonly file: string;
  readonly tensor: string;
}

/**
 * Decodes `count` elements of a ggml type. `count` must be whole blocks and `bytes` must hold them
 * all; either failure is a CheckpointError naming the tensor (a short read would otherwise decode
 * as zeros past the end).
 */
export function decodeGgml(
  typeName: string,
  bytes: Uint8Array,
  count: number,
  site: DecodeSite = { file: 'decodeGgml', tensor: '?' },
): Float32Array {
  const decode = decoders.get(typeName);
  const type = ggmlTypeByName(typeName);
  if (!decode || !type)
    throw new CheckpointError(
      'unsupported-dtype',
      site.file,
      `tensor "${site.tensor}" is ${typeName}; decodable: ${[...decoders.keys()].join(', ')}`,
    );
  if (count % type.blockSize !== 0) {
    throw new CheckpointError(
      'bad-shape',
      site.file,
      `tensor "${site.tensor}" is ${typeName} (blocks of ${type.blockSize}) but has ${count} elements`,
    );
  }
  const needed = (count / type.blockSize) * type.blockBytes;
  if (bytes.byteLength < needed) {
    throw new CheckpointError(
      'truncated',
      site.file,
      `tensor "${site.tensor}": ${count} ${typeName} elements need ${needed} bytes, got ${bytes.byteLength}`,
    );
  }
  return decode(bytes, count);
}
