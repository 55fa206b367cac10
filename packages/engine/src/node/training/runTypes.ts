import type { DistillationOptions, LrSchedule, TrainableSelection } from '@recur/train';
import type { EarlyExitTraining } from '../../depth/exitObjective.js';
import type { MorTraining } from '../../depth/morObjective.js';
import type { RouterThresholdChoice } from '../../depth/calibrateRouter.js';
import type { LoadedModel } from '../../model.js';
import type { AdapterTraining } from './adapterTrainable.js';
import type { DvptTraining } from './dvptTrainable.js';
import type { CompositionTraining } from '../compose/trainable.js';
import type { IntactTraining } from '../../intact/runIntact.js';

export interface TrainRunOptions {
  /** The model to train (loaded, converted or fresh); it is not changed — a trainable copy is. */
  readonly model: LoadedModel;
  /** Distil from this model's logits (e.g. the source of a conversion). */
  readonly teacher?: LoadedModel;
  readonly distillation?: DistillationOptions;
  readonly textFile: string;
  /** Run folder: checkpoints/, train.jsonl, loss.svg, model/ (the trained model), summary.json. */
  readonly out: string;
  /** Total optimizer steps of the run (the schedule spans them). */
  readonly steps: number;
  /** Stop (and checkpoint) after this step without changing the schedule; resume later to go on. */
  readonly stopAt?: number;
  readonly seqLen: number;
  readonly batchSize: number;
  readonly trainable: TrainableSelection;
  /** Narrows `trainable` by parameter name (e.g. `loraLayerFilter` for `--lora-layers`). */
  readonly trainableFilter?: (name: string) => boolean;
  /**
   * Train only a new LoRA on the frozen model (plain or converted) and write it as a PEFT adapter
   * to `<out>/adapter` instead of a model; `trainable` is then 'lora'.
   */
  readonly adapter?: AdapterTraining;
  /** Train only new DVPT modules on the frozen model and write them to `<out>/dvpt` instead of a model. */
  readonly dvpt?: DvptTraining;
  /**
   * Train only the coefficients (ScaLearn) or gates combining these frozen adapters and write them to
   * `<out>/composition` instead of a model; the run frees the parts.
   */
  readonly composition?: CompositionTraining;
  readonly schedule: LrSchedule;
  readonly weightDecay?: number;
  readonly clipNorm?: number;
  readonly accumulation?: number;
  readonly valFraction?: number;
  /** Held-out evaluation every N steps, on at most `evalWindows` windows (the final one uses all). */
  readonly evalEvery?: number;
  readonly evalWindows?: number;
  /** Windows of the held-out evaluations before and after training (default: the whole validation split). */
  readonly finalEvalWindows?: number;
  readonly saveEvery?: number;
  readonly keep?: number;
  /** Continue from the newest intact checkpoint in `out` (refused when there is none, or it is of another model). */
  readonly resume?: boolean;
  /** Resume even though settings differ from the run's saved ones (they are reported as warnings). */
  readonly allowChanges?: boolean;
  /** A fresh run in a folder that holds a run or other files: empty it first (see `prepareRunFolder`). */
  readonly force?: boolean;
  /** Called after each file of a checkpoint is written and synced (progress; tests kill a save midway with it). */
  readonly onCheckpointFile?: (file: string, index: number, total: number) => void | Promise<void>;
  readonly seed?: number;
  /**
   * How a MoR model's router trains (warm-ups, loss coefficients);
   * its kind, α and KV mode come from `model.recur.router`.
   */
  readonly router?: MorSettings;
  /**
   * Expert-choice routers: the decode threshold saved with the model — 'calibrated' (per recursion, on
   * the held-out split after training, so the causal keep fraction matches the trained capacity) or
   * one fixed σ. Unset: the model's router section is saved as it is.
   */
  readonly routerThreshold?: RouterThresholdChoice;
  /** Train every loop as an exit (earlyExitObjective) instead of the last one only. */
  readonly exit?: EarlyExitTraining;
  /** InTAct: λ·penalty keeping the trainable projections' function inside an earlier domain's intervals. */
  readonly intact?: IntactTraining;
  /** Record the trained model's activation intervals on this many windows of `textFile` into `<out>/intact/`. */
  readonly recordIntervals?: number;
  readonly onProgress?: (event: TrainProgress) => void;
}

/** The MoR training settings a run chooses (the rest is the model's `recur.router`). */
export type MorSettings = Pick<
  MorTraining,
  'scoring' | 'warmupSteps' | 'bceCoef' | 'zCoef' | 'balanceCoef' | 'balanceRate'
>;

export type TrainProgress =
  | { readonly kind: 'tokenize'; readonly done: number; readonly total: number }
  | {
      readonly kind: 'step';
      readonly step: number;
      readonly steps: number;
      readonly loss: number;
      readonly tokensPerSecond: number;
    }
  | { readonly kind: 'eval'; readonly step: number; readonly valLoss: number }
  | { readonly kind: 'saved'; readonly step: number; readonly dir: string }
  | { readonly kind: 'calibrate'; readonly done: number; readonly total: number }
  | { readonly kind: 'warning'; readonly message: string };

export interface TrainRunResult {
  readonly steps: number;
  readonly resumedFrom: number | null;
  readonly trainedParameters: number;
  readonly tokens: number;
  readonly seconds: number;
  readonly tokensPerSecond: number;
  readonly finalTrainLoss: number;
  /** Held-out mean NLL and perplexity on the whole validation split, before (fresh runs) and after. */
  readonly heldOut: { readonly before: HeldOut | null; readonly after: HeldOut };
  /** Calibrated per-recursion σ thresholds saved with the model (routerThreshold 'calibrated'). */
  readonly routerThresholds?: readonly number[];
  /** The trained model's folder; with `adapter` or `dvpt`, the base model they apply to. */
  readonly modelDir: string;
  /** With `adapter`: the PEFT adapter folder. */
  readonly adapterDir?: string;
  /** With `dvpt`: the DVPT folder (dvpt_config.json + dvpt_model.safetensors). */
  readonly dvptDir?: string;
  /** With `composition`: the composition folder. */
  readonly compositionDir?: string;
  /** With `recordIntervals`: the folder of the recorded activation intervals (`<out>/intact`). */
  readonly intervalsDir?: string;
  /** With `intact`: λ and how many weight matrices the interval-drift penalty constrained. */
  readonly intact?: { readonly weight: number; readonly constrainedWeights: number };
  readonly logFile: string;
  readonly chartFile: string;
  /** What the run passed over or changed on the way (a torn log line, a damaged checkpoint, changed settings). */
  readonly warnings: readonly string[];
}

export interface HeldOut {
  readonly meanNll: number;
  readonly perplexity: number;
  readonly tokens: number;
  /** Mean loops per scored token (router models). */
  readonly averageDepth?: number;
}
