import { SchedulerError } from './errors.js';
import type { Request } from './types.js';

/** Throws `SchedulerError('bad-request')` naming the request and field at fault. */
export function validateRequest(request: Request): void {
  const fail = (field: string, expected: string, value: unknown): never => {
    throw new SchedulerError(
      'bad-request',
      `request ${String(request.id)}: ${field} must be ${expected}, got ${String(value)}`,
    );
  };
  if (typeof request.id !== 'string' || request.id === '') fail('id', 'a non-empty string', request.id);
  if (!Number.isSafeInteger(request.promptLength) || request.promptLength < 1) {
    fail('promptLength', 'a positive integer', request.promptLength);
  }
  if (!Number.isSafeInteger(request.maxNewTokens) || request.maxNewTokens < 1) {
    fail('maxNewTokens', 'a positive integer', request.maxNewTokens);
  }
  if (!Number.isFinite(request.arrival)) fail('arrival', 'a finite number', request.arrival);
  if (request.priority !== undefined && !Number.isFinite(request.priority)) {
    fail('priority', 'a finite number', request.priority);
  }
  if (request.adapter !== undefined && (!Number.isSafeInteger(request.adapter) || request.adapter < 0)) {
    fail('adapter', 'a non-negative integer', request.adapter);
  }
}
