import { expertDecision, routingUpdate, tokenDecision, type DepthRouting } from '@recur/graph';

/** One position's router state between loops: the gate of its next loop, and (token choice) the depth it chose. */
export interface PositionRoute {
  gate: number;
  /** Token choice: the depth chosen at loop 0's entry (0 until then). */
  depth: number;
}

/** What one position brings to routeAfterLoop, all views of [d]. */
export interface LoopRows {
  /** The block's output of loop r on entry; overwritten with the updated state (the exit state when it leaves). */
  readonly h: Float32Array;
  /** The state that entered loop r (h₀ at r = 0). */
  readonly entering: Float32Array;
  /** h₀: the state entering loop 0, after the prologue. */
  readonly entry: Float32Array;
}

/**
 * The routing of one served position after its loop r, as fastDepthForward routes a whole call (the
 * same description and row evaluators, so serving and `generate` cannot drift apart): at r = 0 token
 * choice picks the depth and gate from h₀, expert choice takes loop 0's gate α·σ(router₀·h₀); the update
 * is h ← entering + g·Block(entering) ('gated'), or the block output as is ('gated-once', added once at
 * exit: h₀ + g·f^D(h₀)); expert choice then asks router r+1 of the new state whether the position runs
 * loop r+1 — one d-vector dot product, the cheap exit CDB needs (Mixture-of-Recursions, Bae et al.
 * 2025, arXiv 2507.10524, §2.2). `forcedDepth` (a replayed generated token) overrides when it leaves.
 * Returns true when the position leaves after loop r.
 */
export function routeAfterLoop(
  routing: DepthRouting,
  loops: number,
  r: number,
  rows: LoopRows,
  route: PositionRoute,
  forcedDepth: number | undefined,
): boolean {
  const { h, entering, entry } = rows;
  const d = h.length;
  if (r === 0 && routing.kind === 'token') Object.assign(route, tokenDecision(routing, entry, 0, d));
  if (r === 0 && routing.kind === 'expert') route.gate = expertDecision(routing, 0, entry, 0, d).gate;
  const update = routingUpdate(routing);
  if (update === 'gated') for (let i = 0; i < d; i++) h[i] = entering[i]! + Math.fround(route.gate * h[i]!);
  let leaves = r + 1 >= loops;
  if (!leaves && routing.kind === 'token') leaves = r + 1 >= route.depth;
  if (!leaves && routing.kind === 'expert') {
    const next = expertDecision(routing, r + 1, h, 0, d);
    leaves = !next.runs;
    route.gate = next.gate;
  }
  if (forcedDepth !== undefined) leaves = r + 1 >= forcedDepth;
  if (leaves && update === 'gated-once') for (let i = 0; i < d; i++) h[i] = entry[i]! + Math.fround(h[i]! * route.gate);
  return leaves;
}
