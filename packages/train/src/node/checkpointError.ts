export type TrainCheckpointErrorCode = 'no-checkpoint' | 'incomplete' | 'bad-state' | 'model-mismatch' | 'bad-option';

/** A training checkpoint that cannot be written, read or resumed from; `file` names the culprit. */
export class TrainCheckpointError extends Error {
  override readonly name = 'TrainCheckpointError';
  constructor(
    readonly code: TrainCheckpointErrorCode,
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}
