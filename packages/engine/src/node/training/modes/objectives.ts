import { languageModelObjective, type Objective } from '@recur/train';
import { earlyExitObjective } from '../../../depth/exitObjective.js';
import { morHeldOutLoss, morObjective, type MorTraining } from '../../../depth/morObjective.js';
import type { LoadedModel } from '../../../model.js';
import { heldOutLoss } from '../heldOut.js';
import type { MorSettings, TrainRunOptions } from '../runTypes.js';
import type { TrainableModel } from '../trainable.js';

/** A run's loss, what frees it and what it does after each step (MoR's loss-free balancing bias). */
export type RunObjective = Objective & { dispose?: () => void; afterStep?: (step: number) => void };

/** Held-out mean NLL (and, routed, mean loops per token) of the trained copy on some windows. */
export type Evaluate = (windows: readonly Int32Array[]) => { meanNll: number; tokens: number; averageDepth?: number };

/** What a run minimises and how it scores held-out text: one entry per objective, first chosen wins. */
export interface ObjectiveMode {
  readonly name: 'router' | 'early-exit' | 'language-model';
  /** Whether the run trains with this objective (`mor`: the model's router training, when it has one). */
  chosen(options: TrainRunOptions, mor: MorTraining | undefined, trained: TrainableModel): boolean;
  objective(trained: TrainableModel, options: TrainRunOptions, mor: MorTraining | undefined): RunObjective;
  evaluate(trained: TrainableModel, mor: MorTraining | undefined): Evaluate;
}

const teacherOf = (options: TrainRunOptions) =>
  options.teacher ? { teacher: options.teacher.decoder, distillation: options.distillation ?? {} } : {};

const plainEvaluate =
  (trained: TrainableModel): Evaluate =>
  (windows) =>
    heldOutLoss(trained.model.decoder, windows);

/** MoR: the router's objective (Bae et al. 2025, "Mixture-of-Recursions", arXiv 2507.10524) and its routed held-out loss. */
const routerObjective: ObjectiveMode = {
  name: 'router',
  chosen: (_options, mor, trained) => mor !== undefined && trained.model.routerParams !== undefined,
  objective: (trained, options, mor) =>
    morObjective({
      model: trained.model.decoder,
      routerParams: trained.model.routerParams!,
      mor: mor!,
      ...teacherOf(options),
    }),
  evaluate: (trained, mor) => (windows) =>
    morHeldOutLoss(trained.model.decoder, trained.model.routerParams!, mor!, windows),
};

/** Every loop trained as an exit (`--exit-loss`), scored at full depth. */
const earlyExit: ObjectiveMode = {
  name: 'early-exit',
  chosen: (options) => options.exit !== undefined,
  objective: (trained, options) =>
    earlyExitObjective({ model: trained.model.decoder, exit: options.exit!, ...teacherOf(options) }),
  evaluate: plainEvaluate,
};

/** Next-token cross-entropy (with distillation from a teacher where given). */
const languageModel: ObjectiveMode = {
  name: 'language-model',
  chosen: () => true,
  objective: (trained, options) => languageModelObjective({ model: trained.model.decoder, ...teacherOf(options) }),
  evaluate: plainEvaluate,
};

export const objectiveModes: readonly ObjectiveMode[] = [routerObjective, earlyExit, languageModel];

/** The MoR training of a model with a router (its kind, α and KV mode from `recur.router`), checked against the run's settings. */
export function morTraining(model: LoadedModel, settings: MorSettings | undefined): MorTraining | undefined {
  const router = model.recur?.router;
  if (!router) {
    if (settings) throw new RangeError(`${model.source.path}: router settings given but the model has no router`);
    return undefined;
  }
  const token =
    router.kind === 'token'
      ? ({ tokenForm: router.tokenForm ?? 'gated-every-loop', balance: router.balance ?? 'loss' } as const)
      : {};
  return { kind: router.kind, alpha: router.alpha, kvMode: router.kvMode, ...token, ...settings };
}
