/** A training run that cannot start or go on as asked: `path` names the run folder or file at fault. */
export class TrainRunError extends Error {
  override readonly name = 'TrainRunError';
  constructor(
    readonly path: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${path}: ${message}`, options);
  }
}
