import { expectShape } from '../errors.js';

/** Throws unless `data` holds exactly the product of `shape` elements; names the argument at fault. */
export function checkLength(op: string, name: string, data: ArrayLike<number>, shape: readonly number[]): void {
  const size = shape.reduce((a, b) => a * b, 1);
  expectShape(data.length === size, op, () => `${name} has ${data.length} elements, expected [${shape}] = ${size}`);
}
