/** An op was called with tensors whose shapes (or companion arrays) do not fit together. */
export class ShapeError extends Error {
  override readonly name = 'ShapeError';

  constructor(
    /** The op that rejected its inputs, e.g. `causalAttention`. */
    readonly op: string,
    message: string,
  ) {
    super(`${op}: ${message}`);
  }
}

/** Throws a ShapeError for `op` unless `ok`; `message` is built only on failure. */
export function expectShape(ok: boolean, op: string, message: () => string): asserts ok {
  if (!ok) throw new ShapeError(op, message());
}

/** `--backend webgpu` in Node cannot start: the `webgpu` package is missing or Dawn finds no adapter. */
export class WebGpuUnavailableError extends Error {
  override readonly name = 'WebGpuUnavailableError';
}
