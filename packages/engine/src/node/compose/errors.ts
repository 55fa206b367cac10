/** A composition that cannot be trained or loaded as asked: `path` names the folder or file at fault. */
export class CompositionError extends Error {
  override readonly name = 'CompositionError';
  constructor(
    readonly path: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${path}: ${message}`, options);
  }
}
