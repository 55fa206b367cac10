/** What went wrong, as a stable string a caller can switch on (the message is for people). */
export type SchedulerErrorCode =
  | 'bad-config'
  | 'bad-request'
  | 'duplicate-request'
  | 'too-large'
  | 'plan-outstanding'
  | 'no-plan'
  | 'bad-result';

/** A misuse of the scheduler: bad config, bad request, or a step result that does not match its plan. */
export class SchedulerError extends Error {
  override readonly name = 'SchedulerError';
  constructor(
    readonly code: SchedulerErrorCode,
    message: string,
  ) {
    super(message);
  }
}
