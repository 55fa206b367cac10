/**
 * A training step whose loss or gradient norm is not finite: the run has diverged. Thrown before
 * the update is applied, so the parameters (and any checkpoint) stay those of the last good step.
 */
export class TrainingDivergedError extends Error {
  override readonly name = 'TrainingDivergedError';
  constructor(
    /** The 1-based step that diverged (the one that was not taken). */
    readonly step: number,
    readonly field: 'loss' | 'gradient norm',
    readonly value: number,
  ) {
    super(
      `training diverged at step ${step}: ${field} is ${value} (the update was not applied; a lower learning rate or a tighter clip may help)`,
    );
  }
}

/** Throws TrainingDivergedError when the step's loss or gradient norm is NaN or infinite. */
export function checkFinite(step: number, loss: number, gradNorm: number): void {
  if (!Number.isFinite(loss)) throw new TrainingDivergedError(step, 'loss', loss);
  if (!Number.isFinite(gradNorm)) throw new TrainingDivergedError(step, 'gradient norm', gradNorm);
}
