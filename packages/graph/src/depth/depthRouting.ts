import { ConfigError } from '../config.js';

/**
 * One scalar router d → 1 (Mixture-of-Recursions expert choice, Bae et al. 2025, arXiv 2507.10524,
 * §2.2.1 and its router ablation): 'linear' w·h, or 'mlp' fc2·SiLU(fc1·h + b). Hugging Face [out, in]
 * layout, row-major.
 */
export type ScalarRouterWeights =
  | { readonly kind: 'linear'; readonly weight: Float32Array } // [1, d]
  // [h, d], [h], [1, h]
  | { readonly kind: 'mlp'; readonly fc1: Float32Array; readonly fc1Bias: Float32Array; readonly fc2: Float32Array };

/**
 * Expert choice at inference: recursion r ≥ 1 keeps the candidates whose σ(logit_r) > thresholds[r]
 * (causal; thresholds[0] is unused: loop 0 keeps every token), and a kept row is updated
 * h ← h + g·Block(h), g = α·σ(logit_r).
 */
export interface ExpertChoiceDescription {
  readonly kind: 'expert';
  readonly alpha: number;
  /** Per recursion, length N; index 0 unused. */
  readonly thresholds: readonly number[];
  /** Per recursion, length N (router 0 gates loop 0). */
  readonly routers: readonly ScalarRouterWeights[];
}

/**
 * Token choice (§2.2.2): softmax over weight·h [N] on the state entering loop 0, top-1 of
 * probabilities + optional loss-free balance bias (ties to the shallower depth), gate = the chosen
 * depth's unbiased probability. 'paper': loops ungated, final h₀ + g·f^r(h₀); 'gated-every-loop':
 * h ← h + g·Block(h) at each loop.
 */
export interface TokenChoiceDescription {
  readonly kind: 'token';
  /** [N, d]. */
  readonly weight: Float32Array;
  readonly numRecursions: number;
  /** [N], added to the probabilities for the choice only. */
  readonly bias?: Float32Array;
  readonly form: 'paper' | 'gated-every-loop';
}

/** How a router model picks each token's depth: the one description both executors run. */
export type DepthRouting = ExpertChoiceDescription | TokenChoiceDescription;

/** How a loop's output replaces a row's state (see LoopRouting in @recur/router). */
export type DepthUpdate = 'replace' | 'gated' | 'gated-once';

export function routingUpdate(routing: DepthRouting): DepthUpdate {
  return routing.kind === 'token' && routing.form === 'paper' ? 'gated-once' : 'gated';
}

/** Throws a ConfigError naming the array whose size does not fit hidden size d and N loops. */
export function validateDepthRouting(routing: DepthRouting, d: number, loops: number): void {
  const need = (field: string, got: number, want: number): void => {
    if (got !== want)
      throw new ConfigError(field, `routing: ${field} has ${got} floats; expected ${want} (d = ${d}, N = ${loops})`);
  };
  if (routing.kind === 'token') {
    need('numRecursions', routing.numRecursions, loops);
    need('weight', routing.weight.length, loops * d);
    if (routing.bias) need('bias', routing.bias.length, loops);
    return;
  }
  need('routers', routing.routers.length, loops);
  need('thresholds', routing.thresholds.length, loops);
  routing.routers.forEach((router, r) => {
    if (router.kind === 'linear') return need(`routers[${r}].weight`, router.weight.length, d);
    const h = router.fc1Bias.length;
    need(`routers[${r}].fc1`, router.fc1.length, h * d);
    need(`routers[${r}].fc2`, router.fc2.length, h);
  });
  routing.thresholds.forEach((t, r) => {
    if (r > 0 && !(t > 0 && t < 1))
      throw new ConfigError(`thresholds[${r}]`, `routing: threshold ${t} must be in (0, 1)`);
  });
}

/** Σ w[i]·x[at + i] over d entries, summed in float64. */
function dot(w: Float32Array, wAt: number, x: ArrayLike<number>, at: number, d: number): number {
  let s = 0;
  for (let i = 0; i < d; i++) s += w[wAt + i]! * x[at + i]!;
  return s;
}

/** The router logit of the row h[at .. at + d), rounded to float32. */
export function scalarRouterLogit(router: ScalarRouterWeights, h: ArrayLike<number>, at: number, d: number): number {
  if (router.kind === 'linear') return Math.fround(dot(router.weight, 0, h, at, d));
  let s = 0;
  for (let j = 0; j < router.fc1Bias.length; j++) {
    const z = Math.fround(dot(router.fc1, j * d, h, at, d) + router.fc1Bias[j]!);
    s += router.fc2[j]! * Math.fround(z / (1 + Math.exp(-z))); // SiLU
  }
  return Math.fround(s);
}

const sigmoid = (x: number): number => Math.fround(1 / (1 + Math.exp(-x)));

/** Expert choice at recursion r for the row at h[at..]: whether it runs loop r, and its gate α·σ(logit). */
export function expertDecision(
  routing: ExpertChoiceDescription,
  r: number,
  h: ArrayLike<number>,
  at: number,
  d: number,
): { readonly runs: boolean; readonly gate: number } {
  const logit = scalarRouterLogit(routing.routers[r]!, h, at, d);
  const t = routing.thresholds[r]!;
  return {
    runs: r === 0 || logit > Math.log(t / (1 - t)),
    gate: Math.fround(Math.fround(routing.alpha) * sigmoid(logit)),
  };
}

/** Token choice for the row at h[at..]: its depth 1..N and gate (probability of that depth). */
export function tokenDecision(
  routing: TokenChoiceDescription,
  h: ArrayLike<number>,
  at: number,
  d: number,
): { readonly depth: number; readonly gate: number } {
  const n = routing.numRecursions;
  const logits = Array.from({ length: n }, (_, i) => Math.fround(dot(routing.weight, i * d, h, at, d)));
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  const probs = exps.map((e) => Math.fround(e / sum));
  let [best, bestScore] = [0, -Infinity];
  probs.forEach((p, i) => {
    const s = p + (routing.bias?.[i] ?? 0);
    if (s > bestScore) [best, bestScore] = [i, s]; // strict: ties go to the shallower depth
  });
  return { depth: best + 1, gate: probs[best]! };
}

/** Rows (ascending, of the call) that run loop r, and their gates (for the 'gated' update). */
export interface RowChoice {
  readonly selected: Int32Array;
  readonly gates: Float32Array;
}

/** The routing of one forward call, stateful across its loops (token choice decides at loop 0). */
export interface RowRouter {
  readonly update: DepthUpdate;
  /** h: the call's states [T·d] (row t at t·d), candidates: the rows that ran loop r − 1 (all at r = 0). */
  choose(r: number, h: ArrayLike<number>, candidates: Int32Array): RowChoice;
  /** 'gated-once': every row's gate [T], after the loops. */
  finalGates(): Float32Array;
}

/**
 * The row-wise decisions of `routing` for one call: what the fused executor and the tfjs executor
 * (through @recur/router's routingFor) both run, so their depths cannot drift apart.
 */
export function rowRouter(routing: DepthRouting, d: number): RowRouter {
  let chosen: { depths: Int32Array; gates: Float32Array } | undefined;
  const token = (h: ArrayLike<number>, rows: number): { depths: Int32Array; gates: Float32Array } => {
    if (routing.kind !== 'token') throw new Error('unreachable');
    const depths = new Int32Array(rows);
    const gates = new Float32Array(rows);
    for (let t = 0; t < rows; t++) {
      const decision = tokenDecision(routing, h, t * d, d);
      depths[t] = decision.depth;
      gates[t] = decision.gate;
    }
    return { depths, gates };
  };
  return {
    update: routingUpdate(routing),
    choose(r, h, candidates) {
      if (routing.kind === 'token') {
        if (r === 0) chosen = token(h, h.length / d);
        const selected = candidates.filter((t) => chosen!.depths[t]! > r);
        return { selected, gates: Float32Array.from(selected, (t) => chosen!.gates[t]!) };
      }
      const decisions = Array.from(candidates, (t) => ({ t, ...expertDecision(routing, r, h, t * d, d) })).filter(
        (x) => x.runs,
      );
      return { selected: Int32Array.from(decisions, (x) => x.t), gates: Float32Array.from(decisions, (x) => x.gate) };
    },
    finalGates() {
      if (!chosen) throw new RangeError("routing: the 'gated-once' update needs loop 0's token choice first");
      return chosen.gates;
    },
  };
}
