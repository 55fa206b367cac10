/** A bad optimizer, schedule or training option; the message names the field or parameter. */
export class OptimError extends Error {
  override readonly name = 'OptimError';
}
