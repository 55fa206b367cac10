import { type SchedulerConfig, Scheduler, type StepPlan } from '../src/index.js';
import { FakeEngine, rng } from './fakeEngine.js';

export interface ScenarioOutcome {
  readonly engine: FakeEngine;
  readonly submitted: readonly string[];
  readonly cancelled: readonly string[];
  readonly plans: readonly StepPlan[];
}

const MAX_PROMPT = 12;
const MAX_NEW = 8;

/** A random but fully seeded config: every knob the scheduler has. */
export function randomConfig(random: () => number): Partial<SchedulerConfig> {
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const maxDepth = int(1, 4);
  const tokenBudgetPerStep = int(4, 32);
  const kvMode = random() < 0.5 ? 'per-depth' : 'shared-first';
  const worst = (MAX_PROMPT + MAX_NEW - 1) * (kvMode === 'per-depth' ? maxDepth : 1);
  return {
    maxDepth,
    maxRowsPerStep: int(1, 8),
    tokenBudgetPerStep,
    prefillChunk: int(1, tokenBudgetPerStep),
    kvMode,
    kvBudget: int(worst, worst * 3), // tight enough to preempt often
    policy: random() < 0.5 ? 'fcfs' : 'priority',
    batching: random() < 0.2 ? 'static' : 'continuous',
    maxRunning: random() < 0.5 ? int(1, 6) : Number.MAX_SAFE_INTEGER,
  };
}

/**
 * `steps` engine steps with random arrivals, exits, EOS and cancellations (some between a plan and its
 * result), then a drain. The fake engine asserts every invariant on every plan.
 */
export function runScenario(seed: number, steps = 1000): ScenarioOutcome {
  const random = rng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const eos = new Map<string, number>();
  const config = randomConfig(random);
  const engine = new FakeEngine(new Scheduler(config), {
    exitDepth: () => int(0, (config.maxDepth ?? 1) - 1),
    eosAt: (id) => eos.get(id),
  });
  const submitted: string[] = [];
  const cancelled: string[] = [];
  const live = (): string[] => submitted.filter((id) => !engine.finished.has(id) && !engine.gone.has(id));
  const cancelOne = (): void => {
    const ids = live();
    const id = ids[int(0, ids.length - 1)];
    if (id !== undefined && engine.cancel(id)) cancelled.push(id);
  };
  for (let step = 0; step < steps; step++) {
    for (let n = random() < 0.3 ? int(1, 3) : 0; n > 0 && step < steps * 0.8; n--) {
      const id = `r${submitted.length}`;
      if (random() < 0.3) eos.set(id, int(1, MAX_NEW + 2));
      engine.submit({
        id,
        promptLength: int(1, MAX_PROMPT),
        maxNewTokens: int(1, MAX_NEW),
        arrival: step,
        priority: int(0, 3),
        adapter: int(0, 2),
      });
      submitted.push(id);
    }
    if (random() < 0.03) cancelOne();
    const plan = engine.plan();
    if (random() < 0.02) cancelOne();
    if (plan.rows.length > 0) engine.run(plan);
  }
  engine.drain(20_000);
  return { engine, submitted, cancelled, plans: engine.plans };
}
