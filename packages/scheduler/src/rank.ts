import type { Policy } from './config.js';
import type { Request } from './types.js';

/** What ranks a request: the request itself and its submission order (the last tie-break). */
export interface Ranked {
  readonly request: Request;
  readonly seq: number;
}

/**
 * Total order of requests, best first: (priority,) arrival, submission order.
 * Admission follows it, and a request may preempt only requests strictly after it, so the
 * best running request is never preempted and always progresses.
 */
export function compareRank(policy: Policy, a: Ranked, b: Ranked): number {
  if (policy === 'priority') {
    const byPriority = (a.request.priority ?? 0) - (b.request.priority ?? 0);
    if (byPriority !== 0) return byPriority;
  }
  return a.request.arrival - b.request.arrival || a.seq - b.seq;
}
