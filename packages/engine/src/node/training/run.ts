import { join } from 'node:path';
import { tf } from '@recur/tensor';
import {
  AdamW,
  languageModelObjective,
  Trainer,
  TrainingDivergedError,
  type DistillationOptions,
  type Objective,
  type LrSchedule,
  type TrainableSelection,
} from '@recur/train';
import {
  checkIdentity,
  loadLatestCheckpoint,
  modelIdentity,
  resumeTraining,
  saveCheckpoint,
  type LoadedCheckpoint,
} from '@recur/train/node';
import { earlyExitObjective, type EarlyExitTraining } from '../../depth/exitObjective.js';
import { morHeldOutLoss, morObjective, type MorTraining } from '../../depth/morObjective.js';
import { withRouterThreshold, type RouterThresholdChoice } from '../../depth/calibrateRouter.js';
import { disposeModel, type LoadedModel } from '../../model.js';
import { hfConfigJson } from '../../recurConfig.js';
import { json, tokenizerFiles, writeAtomic } from '../files.js';
import { saveModel } from '../save.js';
import { trainingData, tokenizerIdentity } from './data.js';
import { heldOutLoss } from './heldOut.js';
import { checkTrainingFits } from './limits.js';
import { TrainRunError } from './errors.js';
import { checkFiniteWeights } from './finite.js';
import { appendLog, CHART_FILE, LOG_FILE, resumeLog, writeChart, type LogRecord } from './log.js';
import { prepareRunFolder } from './runFolder.js';
import { runRecord, settingsChanges } from './settings.js';
import { trainableModel } from './trainable.js';
import { adapterTrainable, type AdapterTraining } from './adapterTrainable.js';
import { saveTrainedAdapter } from './adapterFiles.js';
import { dvptTrainable, type DvptTraining } from './dvptTrainable.js';
import { saveDvpt } from '../dvptFiles.js';
import { compositionTrainable, type CompositionTraining } from '../compose/trainable.js';
import { intactObjective, type IntactTraining } from '../../intact/runIntact.js';
import { recordRunIntervals } from '../intact/recordRun.js';

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

interface HeldOut {
  readonly meanNll: number;
  readonly perplexity: number;
  readonly tokens: number;
  /** Mean loops per scored token (router models). */
  readonly averageDepth?: number;
}

/**
 * Trains a model on a text file: tokenize once (cached), hold out documents, AdamW under a schedule,
 * optional distillation, periodic held-out evaluation and atomic checkpoints, a JSONL log and an SVG
 * loss curve; writes the trained model to `<out>/model`. Resumable exactly. A step with a
 * non-finite loss or gradient stops the run (TrainingDivergedError) before its update: the
 * checkpoints already saved stay, and no model is written.
 */
export async function trainModel(options: TrainRunOptions): Promise<TrainRunResult> {
  checkTrainingFits(options.model.decoder.config, options, options.model.source.path);
  const checkpoints = join(options.out, 'checkpoints');
  const sources = [
    options.textFile,
    options.model.source.path,
    ...(options.teacher ? [options.teacher.source.path] : []),
    ...(options.composition?.parts.map((part) => part.path) ?? []),
  ];
  await prepareRunFolder(options.out, { resume: options.resume ?? false, force: options.force ?? false, sources });
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    options.onProgress?.({ kind: 'warning', message });
  };
  const loaded = options.resume ? await resumePoint(checkpoints, warn) : undefined;
  const tokenizerJson =
    (await tokenizerFiles(options.model.source.path))['tokenizer.json'] ?? JSON.stringify(options.model.config);
  const data = await trainingData({
    textFile: options.textFile,
    tokenizer: options.model.tokenizer,
    tokenizerIdentity: tokenizerIdentity(tokenizerJson),
    cacheDir: join(options.out, 'cache'),
    seqLen: options.seqLen,
    batchSize: options.batchSize,
    valFraction: options.valFraction ?? 0.1,
    seed: options.seed ?? 0,
    onTokenizeProgress: (done, total) => options.onProgress?.({ kind: 'tokenize', done, total }),
  });
  const mor = morTraining(options.model, options.router);
  const fresh = options.adapter ? adapterTrainable(options.model, options.adapter, options.seed ?? 0) : undefined;
  if (options.adapter && options.dvpt) throw new RangeError('train a new LoRA or DVPT modules, not both at once');
  const dvpt = options.dvpt ? dvptTrainable(options.model, options.dvpt, options.seed ?? 0) : undefined;
  const composed = options.composition ? compositionTrainable(options.model, options.composition) : undefined;
  const trained =
    fresh ?? dvpt ?? composed ?? trainableModel(options.model, options.trainable, options.trainableFilter);
  const optimizer = new AdamW(trained.params, { weightDecay: options.weightDecay ?? 0.01 });
  const teacher = options.teacher ? { teacher: options.teacher.decoder, distillation: options.distillation ?? {} } : {};
  const objective: Objective & { dispose?: () => void; afterStep?: (step: number) => void } =
    mor && trained.model.routerParams
      ? morObjective({ model: trained.model.decoder, routerParams: trained.model.routerParams, mor, ...teacher })
      : options.exit
        ? earlyExitObjective({ model: trained.model.decoder, exit: options.exit, ...teacher })
        : languageModelObjective({ model: trained.model.decoder, ...teacher });
  const intact = intactObjective(objective, trained.params, options.model.decoder.weights, options.intact);
  const evaluate = (windows: readonly Int32Array[]) =>
    mor && trained.model.routerParams
      ? morHeldOutLoss(trained.model.decoder, trained.model.routerParams, mor, windows)
      : heldOutLoss(trained.model.decoder, windows);
  try {
    const trainer = new Trainer({
      params: trained.params,
      optimizer,
      schedule: options.schedule,
      source: data.batcher,
      seed: options.seed ?? 0,
      clipNorm: options.clipNorm ?? 1,
      accumulation: options.accumulation ?? 1,
      objective: intact.objective,
    });
    const identity = modelIdentity(hfConfigJson(options.model.config, options.model.recur), trained.tensors);
    if (loaded) {
      // another model: refused before its settings are compared
      checkIdentity(loaded.state.identity, identity, join(loaded.dir, 'state.json'));
      checkSettings(loaded, options, warn);
      resumeTraining(trainer, loaded, identity);
      restoreFrozenState(trained.tensors, trained.params, loaded);
    }
    const resumedFrom = loaded ? loaded.state.step : null;
    if (loaded) for (const message of await resumeLog(options.out, loaded.state.step)) warn(message);
    const evalSet = data.validation.slice(0, options.evalWindows ?? 16);
    const finalSet =
      options.finalEvalWindows === undefined ? data.validation : data.validation.slice(0, options.finalEvalWindows);
    const before = resumedFrom === null ? heldOut(evaluate, finalSet) : null;
    const started = performance.now();
    let tokens = 0;
    let lastLoss = NaN;
    const last = Math.min(options.steps, options.stopAt ?? Infinity);
    while (trainer.step < last) {
      const stepStart = performance.now();
      const result = stepOrStop(trainer, options.out);
      objective.afterStep?.(result.step);
      tokens += result.tokens;
      lastLoss = result.loss;
      const tokensPerSecond = result.tokens / ((performance.now() - stepStart) / 1000);
      const records: LogRecord[] = [
        {
          kind: 'step',
          step: result.step + 1,
          loss: result.loss,
          lr: result.lr,
          gradNorm: result.gradNorm,
          tokens: result.tokens,
          tokensPerSecond,
          seconds: (performance.now() - started) / 1000,
        },
      ];
      options.onProgress?.({
        kind: 'step',
        step: trainer.step,
        steps: options.steps,
        loss: result.loss,
        tokensPerSecond,
      });
      const due = (every: number | undefined) => every !== undefined && every > 0 && trainer.step % every === 0;
      if (due(options.evalEvery) && trainer.step < last) {
        const { meanNll, tokens: evalTokens } = evaluate(evalSet);
        records.push({
          kind: 'eval',
          step: trainer.step,
          valLoss: meanNll,
          valPerplexity: Math.exp(meanNll),
          tokens: evalTokens,
        });
        options.onProgress?.({ kind: 'eval', step: trainer.step, valLoss: meanNll });
      }
      await appendLog(options.out, records);
      if (due(options.saveEvery) || trainer.step === last) {
        checkFiniteWeights(trained.params, trainer.step, options.out);
        const dir = await saveCheckpoint(checkpoints, {
          trainer,
          model: trained.tensors,
          identity,
          keep: options.keep ?? 3,
          options: runRecord(options),
          ...(options.onCheckpointFile && { onFileWritten: options.onCheckpointFile }),
        });
        options.onProgress?.({ kind: 'saved', step: trainer.step, dir });
      }
    }
    const seconds = (performance.now() - started) / 1000;
    checkFiniteWeights(trained.params, trainer.step, options.out);
    const after = heldOut(evaluate, finalSet);
    await appendLog(options.out, [
      {
        kind: 'eval',
        step: trainer.step,
        valLoss: after.meanNll,
        valPerplexity: after.perplexity,
        tokens: after.tokens,
      },
    ]);
    await writeChart(options.out, `training ${options.model.source.path}`);
    const adapterDir = fresh && (await saveTrainedAdapter(options.out, options.model, fresh.adapter));
    const dvptDir = dvpt && (await saveDvpt(options.out, options.model, dvpt.dvpt));
    const compositionDir = composed && (await composed.save(options.out));
    const modelDir = fresh || dvpt || composed ? options.model.source.path : join(options.out, 'model');
    const finished =
      options.routerThreshold === undefined
        ? trained.model
        : withRouterThreshold(trained.model, options.routerThreshold, {
            windows: finalSet,
            onProgress: (done, total) => options.onProgress?.({ kind: 'calibrate', done, total }),
          });
    if (!fresh && !dvpt && !composed) await saveModel(finished, modelDir, { force: true }); // model/ is this run's own output
    const intervalsDir = options.recordIntervals ? await recordRunIntervals(options, finished) : undefined;
    const result: TrainRunResult = {
      steps: trainer.step,
      resumedFrom,
      trainedParameters: [...trained.params.values()].reduce((n, v) => n + v.size, 0),
      tokens,
      seconds,
      tokensPerSecond: seconds > 0 ? tokens / seconds : 0,
      finalTrainLoss: lastLoss,
      heldOut: { before, after },
      ...(finished.recur?.router?.thresholds && { routerThresholds: finished.recur.router.thresholds }),
      modelDir,
      ...(adapterDir && { adapterDir }),
      ...(dvptDir && { dvptDir }),
      ...(compositionDir && { compositionDir }),
      ...(intervalsDir && { intervalsDir }),
      ...(options.intact && { intact: { weight: options.intact.weight, constrainedWeights: intact.constrained } }),
      logFile: join(options.out, LOG_FILE),
      chartFile: join(options.out, CHART_FILE),
      warnings,
    };
    await writeAtomic(join(options.out, 'summary.json'), json({ ...result, options: runRecord(options) }));
    return result;
  } finally {
    objective.dispose?.();
    intact.dispose();
    optimizer.dispose();
    disposeModel(trained.model);
    fresh?.adapter.dispose();
    composed?.dispose();
  }
}

function heldOut(
  evaluate: (windows: readonly Int32Array[]) => { meanNll: number; tokens: number; averageDepth?: number },
  windows: readonly Int32Array[],
): HeldOut {
  const { meanNll, tokens, averageDepth } = evaluate(windows);
  return { meanNll, perplexity: Math.exp(meanNll), tokens, ...(averageDepth !== undefined && { averageDepth }) };
}

/** The MoR training of a model with a router (its kind, α and KV mode from `recur.router`). */
function morTraining(model: LoadedModel, settings: MorSettings | undefined): MorTraining | undefined {
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

/**
 * Non-trained variables a run changes (the loss-free balancing
 * bias) come back from the checkpoint too, so resume stays exact.
 */
function restoreFrozenState(
  tensors: ReadonlyMap<string, tf.Tensor>,
  params: ReadonlyMap<string, tf.Variable>,
  loaded: LoadedCheckpoint,
): void {
  for (const [name, t] of tensors) {
    if (!(t instanceof tf.Variable) || params.has(name)) continue;
    const saved = loaded.tensors.get(name);
    if (!saved) throw new TrainRunError(loaded.dir, `the checkpoint has no tensor ${name}`);
    tf.tidy(() => t.assign(tf.tensor(saved.data, t.shape, 'float32')));
  }
}

/** One step; a diverged one names the run folder and what is kept (nothing of the NaN state is saved). */
function stepOrStop(trainer: Trainer, out: string): ReturnType<Trainer['trainStep']> {
  try {
    return trainer.trainStep();
  } catch (error) {
    if (!(error instanceof TrainingDivergedError)) throw error;
    throw new TrainRunError(out, `${error.message}; no model was written, the checkpoints saved before it are kept`, {
      cause: error,
    });
  }
}

/** The newest intact checkpoint; the damaged ones it passed over are reported through `warn`. */
async function resumePoint(checkpoints: string, warn: (message: string) => void): Promise<LoadedCheckpoint> {
  const loaded = await loadLatestCheckpoint(checkpoints);
  if (!loaded) throw new TrainRunError(checkpoints, 'no intact checkpoint to resume from');
  for (const { reason } of loaded.skipped) warn(`skipped damaged checkpoint ${reason}`);
  return loaded;
}

/** Settings that differ from the run's saved ones are refused, or with `allowChanges` reported through `warn`. */
function checkSettings(loaded: LoadedCheckpoint, options: TrainRunOptions, warn: (message: string) => void): void {
  const changes = settingsChanges(loaded.state.options, runRecord(options));
  if (changes.length === 0) return;
  const list = changes.join(', ');
  if (!options.allowChanges) {
    throw new TrainRunError(
      join(loaded.dir, 'state.json'),
      `settings differ from the ones this run was started with: ${list}; resume with the same settings, or pass --allow-changes to go on with the new ones`,
    );
  }
  warn(`resuming with changed settings: ${list}`);
}
