import type { Command } from 'commander';
import { withRouter, type LoadedModel, type RouterThresholdChoice } from '@recur/engine';
import type { MorSettings } from '@recur/engine/node';
import { parseNumber, UsageError } from '../errors.js';

/** The Mixture-of-Recursions and recursive-shape flags of `recur train`. */
export interface RouterCliOptions {
  readonly router?: string;
  readonly routerArch: string;
  readonly routerAlpha: string;
  readonly routerKv: string;
  readonly routerWarmup: string;
  readonly routerThreshold?: string;
  readonly bceCoef: string;
  readonly zCoef: string;
  readonly balanceCoef: string;
  readonly tokenForm?: string;
  readonly balance?: string;
  readonly balanceRate: string;
  readonly loops?: string;
  readonly strategy?: string;
}

const kinds = ['expert', 'token'] as const;
const strategies = ['cycle', 'middle-cycle'] as const;
const tokenForms = ['paper', 'gated-every-loop'] as const;
const balances = ['loss', 'loss-free'] as const;

export function addRouterOptions(command: Command): Command {
  return command
    .option('--loops <n>', 'with --from-scratch: tie the fresh layers into a block looped n times (a recursive model)')
    .option('--strategy <s>', `with --loops: ${strategies.join(' or ')} (MoR's default: middle-cycle)`)
    .option(
      '--router <kind>',
      'train a Mixture-of-Recursions router with the model: expert (expert-choice) or token (token-choice)',
    )
    .option('--router-arch <a>', 'expert-choice router: linear or mlp', 'linear')
    .option('--router-alpha <x>', 'expert-choice gate scale α (gate = α·σ(logit))', '0.1')
    .option(
      '--router-kv <mode>',
      'KV while training: recursion-wise (MoR caching) or shared (recursive KV sharing)',
      'recursion-wise',
    )
    .option(
      '--router-warmup <n>',
      'expert: cosine capacity warm-up steps from full depth; token: steps at full depth',
      '0',
    )
    .option(
      '--router-threshold <x>',
      'expert-choice decode rule saved with the model: calibrated (the default: per-recursion σ thresholds fitted after training on the held-out split so each recursion keeps its trained capacity (N−r)/N) or a number x in (0, 1) for σ(logit) > x at every recursion; --exit router:T overrides either at decode time',
    )
    .option('--bce-coef <x>', 'expert-choice "was selected" BCE coefficient', '1e-3')
    .option('--z-coef <x>', 'router z-loss coefficient (0 = off)', '0')
    .option('--balance-coef <x>', 'token-choice balancing loss coefficient', '0.1')
    .option(
      '--token-form <f>',
      'with --router token: paper (loops run ungated, final = h₀ + g·f^r(h₀), the default) or gated-every-loop (h ← h + g·Block(h) each loop); saved with the model',
    )
    .option(
      '--balance <mode>',
      'with --router token: loss (auxiliary balancing loss, the default) or loss-free (a per-depth bias on the router probabilities, updated each step; saved with the model)',
    )
    .option('--balance-rate <u>', 'loss-free balancing: bias step u in b_i += u·sign(mean load − load_i)', '1e-3');
}

/** --loops/--strategy as the scratch model's recursive shape (undefined: a vanilla model). */
export function recursiveShape(
  options: RouterCliOptions,
  fromScratch: boolean,
): { loops: number; strategy: (typeof strategies)[number] } | undefined {
  if (options.loops === undefined) {
    if (options.strategy !== undefined) throw new UsageError('--strategy needs --loops N');
    return undefined;
  }
  if (!fromScratch)
    throw new UsageError('--loops applies with --from-scratch only (convert a trained model with recur convert)');
  const strategy = (options.strategy ?? 'middle-cycle') as (typeof strategies)[number];
  if (!strategies.includes(strategy))
    throw new UsageError(`--strategy must be one of ${strategies.join(', ')}, got "${options.strategy}"`);
  return { loops: parseNumber('loops', options.loops, { integer: true, min: 2 }), strategy };
}

/** Checks the router flags before any model is loaded. */
export function checkRouterFlags(options: RouterCliOptions): void {
  if (options.router !== undefined && !kinds.includes(options.router as (typeof kinds)[number])) {
    throw new UsageError(`--router must be expert or token, got "${options.router}"`);
  }
  if (!['linear', 'mlp'].includes(options.routerArch))
    throw new UsageError(`--router-arch must be linear or mlp, got "${options.routerArch}"`);
  if (!['recursion-wise', 'shared'].includes(options.routerKv))
    throw new UsageError(`--router-kv must be recursion-wise or shared, got "${options.routerKv}"`);
  if (options.routerThreshold !== undefined && options.router === 'token')
    throw new UsageError('--router-threshold applies to expert-choice routers (--router expert)');
  if (options.routerThreshold !== undefined) parseThreshold(options.routerThreshold);
  for (const [flag, value, allowed] of [
    ['token-form', options.tokenForm, tokenForms],
    ['balance', options.balance, balances],
  ] as const) {
    if (value === undefined) continue;
    if (options.router !== 'token')
      throw new UsageError(
        `--${flag} applies with --router token only (a trained router keeps the ${flag} it was trained with)`,
      );
    if (!(allowed as readonly string[]).includes(value))
      throw new UsageError(`--${flag} must be ${allowed.join(' or ')}, got "${value}"`);
  }
}

/** The model with a fresh router when --router is given (UsageError when it cannot carry one). */
export function modelWithRouter(model: LoadedModel, options: RouterCliOptions, seed: number): LoadedModel {
  if (options.router === undefined) return model;
  if (model.routerParams)
    throw new UsageError(
      `${model.source.path} already has a ${model.recur?.router?.kind ?? ''} router: drop --router to go on training it`,
    );
  try {
    return withRouter(model, {
      kind: options.router as (typeof kinds)[number],
      architecture: options.routerArch as 'linear' | 'mlp',
      alpha: parseNumber('router-alpha', options.routerAlpha, { min: 0 }),
      kvMode: options.routerKv as 'recursion-wise' | 'shared',
      seed,
      ...(options.tokenForm !== undefined && { tokenForm: options.tokenForm as (typeof tokenForms)[number] }),
      ...(options.balance !== undefined && { balance: options.balance as (typeof balances)[number] }),
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * --router-threshold for the model about to train: expert-choice routers default to 'calibrated';
 * a number must lie in (0, 1). UsageError for models without an expert-choice router.
 */
export function routerThreshold(options: RouterCliOptions, model: LoadedModel): RouterThresholdChoice | undefined {
  const raw = options.routerThreshold;
  if (model.recur?.router?.kind !== 'expert') {
    if (raw !== undefined)
      throw new UsageError(
        '--router-threshold applies to expert-choice routers (--router expert, or a model trained with one)',
      );
    return undefined;
  }
  return raw === undefined ? 'calibrated' : parseThreshold(raw);
}

function parseThreshold(text: string): RouterThresholdChoice {
  const raw = text.trim();
  if (raw === 'calibrated') return raw;
  const value = Number(raw);
  if (raw === '' || !Number.isFinite(value) || value <= 0 || value >= 1)
    throw new UsageError(`--router-threshold must be calibrated or a number in (0, 1), got "${text}"`);
  return value;
}

/** The run's router training settings (undefined for models without a router). */
export function morSettings(options: RouterCliOptions, model: LoadedModel): MorSettings | undefined {
  if (!model.recur?.router) return undefined;
  return {
    warmupSteps: parseNumber('router-warmup', options.routerWarmup, { integer: true, min: 0 }),
    bceCoef: parseNumber('bce-coef', options.bceCoef, { min: 0 }),
    zCoef: parseNumber('z-coef', options.zCoef, { min: 0 }),
    balanceCoef: parseNumber('balance-coef', options.balanceCoef, { min: 0 }),
    balanceRate: parseNumber('balance-rate', options.balanceRate, { min: 0 }),
  };
}
