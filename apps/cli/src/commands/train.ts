import { resolve } from 'node:path';
import type { Command } from 'commander';
import { disposeModel, type LoadedModel } from '@recur/engine';
import {
  checkTrainingFits,
  loadModel,
  prepareRunFolder,
  readTextFile,
  scratchModel,
  trainModel,
  type ScratchModelOptions,
  type TrainingShape,
  type TrainProgress,
  type TrainRunOptions,
} from '@recur/engine/node';
import type { LrSchedule, TrainableSelection } from '@recur/engine';
import { parseNumber, UsageError } from '../errors.js';
import { progressBar, type Progress } from '../progress.js';
import { addExitTrainingOptions, exitTraining, type ExitTrainingCliOptions } from './exitTrainingOptions.js';
import {
  addRouterOptions,
  checkRouterFlags,
  modelWithRouter,
  morSettings,
  recursiveShape,
  routerThreshold,
  type RouterCliOptions,
} from './routerOptions.js';
import { parseSeed } from './samplingFlags.js';
import { addAdapterTrainingOptions, adapterTraining, type AdapterCliOptions } from './adapterOptions.js';
import {
  addComposeTrainingOptions,
  composeTraining,
  compositionParts,
  type ComposeCliOptions,
} from './composeOptions.js';
import { loraLayersFilter, loraLayersFlag, loraLayersHelp, loraLayerTargets } from './loraLayersOption.js';
import { addDvptTrainingOptions, dvptTraining, dvptTrainableHelp, type DvptCliOptions } from './dvptOptions.js';
import {
  addIntactOptions,
  checkIntactFlags,
  intactTraining,
  recordIntervalWindows,
  type IntactCliOptions,
} from './intactOptions.js';
import { freshLoraKind } from './loraKindOptions.js';
import { openModel, printJson, startBackend, table, type ModelOptions } from './shared.js';
import { domainFlag, domainHelp } from './domainOptions.js';

interface TrainCliOptions
  extends ModelOptions,
    RouterCliOptions,
    ExitTrainingCliOptions,
    AdapterCliOptions,
    DvptCliOptions,
    ComposeCliOptions,
    IntactCliOptions {
  readonly data?: string;
  readonly out?: string;
  readonly fromScratch?: boolean;
  readonly config?: string;
  readonly tokenizer?: string;
  readonly vocabSize: string;
  readonly steps: string;
  readonly stopAt?: string;
  readonly batch: string;
  readonly seq: string;
  readonly lr: string;
  readonly schedule: string;
  readonly warmup?: string;
  readonly minLrRatio: string;
  readonly weightDecay: string;
  readonly clip: string;
  readonly accumulate: string;
  readonly trainable?: string;
  readonly loraLayers?: string;
  readonly distill?: boolean;
  readonly teacher?: string;
  readonly kdAlpha: string;
  readonly kdTemperature: string;
  readonly valFraction: string;
  readonly evalEvery: string;
  readonly evalWindows: string;
  readonly saveEvery: string;
  readonly keep: string;
  readonly resume?: boolean;
  readonly allowChanges?: boolean;
  readonly force?: boolean;
  readonly seed: string;
  readonly json?: boolean;
}

const selections = ['lora', 'shared+lora', 'all'] as const;

export function registerTrain(program: Command): void {
  const command = program
    .command('train')
    .description(
      'train a model on a text file (uptraining with distillation, or from scratch); resumable, with a JSONL log and an SVG loss curve',
    )
    .option('--model <path>', 'model to train: HF folder, .safetensors, .gguf, or a converted Recur model')
    .option('--from-scratch', 'build a fresh model from --config instead of loading --model')
    .option(domainFlag, domainHelp)
    .option('--config <file>', 'with --from-scratch: a Hugging Face config.json')
    .option('--tokenizer <file>', 'with --from-scratch: a tokenizer.json (default: train a byte-level BPE on --data)')
    .option(
      '--vocab-size <n>',
      "with --from-scratch and no --tokenizer: BPE vocabulary size (must equal the config's vocab_size)",
      '512',
    )
    .option(
      '--data <file>',
      'UTF-8 text file (documents separated by blank lines); the last --val-fraction of documents is held out',
    )
    .option('--out <dir>', 'run folder: checkpoints/, train.jsonl, loss.svg, model/, summary.json')
    .option('--steps <n>', 'optimizer steps of the whole run (the schedule spans them)', '200')
    .option('--stop-at <n>', 'stop with a checkpoint after step n (continue later with --resume)')
    .option('--batch <n>', 'sequences per step', '8')
    .option('--seq <n>', 'tokens per sequence', '256')
    .option('--lr <x>', 'peak learning rate', '1e-3')
    .option('--schedule <s>', 'cosine, wsd (warmup-stable-decay) or constant', 'cosine')
    .option('--warmup <n>', 'warmup steps (default: 10% of --steps, at most 20)')
    .option('--min-lr-ratio <x>', 'final learning rate as a fraction of the peak', '0.1')
    .option('--weight-decay <x>', 'AdamW decoupled weight decay', '0.01')
    .option('--clip <x>', 'clip the global gradient norm', '1')
    .option('--accumulate <n>', 'micro-batches per step (gradient accumulation)', '1')
    .option(
      '--trainable <what>',
      `which parameters train: ${selections.join(', ')} (default: shared+lora for converted models, all otherwise); ${dvptTrainableHelp}`,
    )
    .option(loraLayersFlag, loraLayersHelp)
    .option('--distill', 'distil from the teacher (default teacher: the source model of a conversion)')
    .option('--teacher <path>', 'teacher model for --distill')
    .option('--kd-alpha <x>', 'weight of the distillation term: alpha·KD + (1 − alpha)·CE', '0.5')
    .option('--kd-temperature <x>', 'distillation temperature', '2')
    .option('--val-fraction <x>', 'share of documents held out', '0.1')
    .option('--eval-every <n>', 'held-out evaluation every n steps (0 = only at the end)', '50')
    .option('--eval-windows <n>', 'held-out windows per periodic evaluation (the final one uses all)', '16')
    .option('--save-every <n>', 'checkpoint every n steps (and at the end)', '50')
    .option('--keep <n>', 'checkpoints kept', '3')
    .option(
      '--resume',
      'continue the run in --out from its newest intact checkpoint (damaged ones are skipped and named)',
    )
    .option(
      '--allow-changes',
      "with --resume: go on although settings (lr, schedule, batch, seq, …) differ from the run's saved ones (each is printed as a warning)",
    )
    .option('--force', 'start a fresh run in an --out that holds another run or other files, emptying it first')
    .option('--seed <n>', 'seed for data order and init: an integer in [0, 2^32 − 1]', '0')
    .option('--backend <name>', 'tensor backend: wasm (default in Node), cpu')
    .option('--threads <n>', 'wasm compute threads (default RECUR_THREADS, else all cores)')
    .option('--json', 'print one JSON summary');
  // --lora-kind and its flags come with the adapter options (a new adapter's kind, or a fresh model's per-loop LoRA)
  addIntactOptions(
    addComposeTrainingOptions(
      addDvptTrainingOptions(addAdapterTrainingOptions(addExitTrainingOptions(addRouterOptions(command)))),
    ),
  ).action(async (options: TrainCliOptions) => {
    if (!options.data) throw new UsageError('--data FILE is required');
    if (!options.out) throw new UsageError('--out DIR is required');
    if (options.resume && options.force)
      throw new UsageError('--force starts a fresh run and --resume continues one: give one of them');
    if (options.allowChanges && !options.resume) throw new UsageError('--allow-changes only applies with --resume');
    if (options.fromScratch && options.model)
      throw new UsageError('give --model or --from-scratch --config FILE, not both');
    if (options.fromScratch && !options.config)
      throw new UsageError('--from-scratch needs --config FILE (a Hugging Face config.json)');
    if (!options.fromScratch && !options.model)
      throw new UsageError('--model PATH is required (or --from-scratch --config FILE)');
    const settings = runSettings(options);
    const dvpt = dvptTraining(options);
    const adapter = adapterTraining(options);
    const compose = composeTraining(options);
    if (adapter?.mos && options.loraLayers !== undefined)
      throw new UsageError(
        '--lora-layers does not apply to a new MoS adapter: its shard pools are shared by every layer',
      );
    checkRouterFlags(options);
    checkIntactFlags(options);
    const exit = exitTraining(options);
    if (exit && options.router)
      throw new UsageError(
        '--exit-loss trains early exits of a model without a router; MoR models route with --router',
      );
    const shape = recursiveShape(options, options.fromScratch ?? false);
    const loraKind = freshLoraKind(options, shape !== undefined);
    // Refuse a wrong --out before loading anything (the run checks again, with the teacher it finds).
    const sources = [
      options.data,
      options.model,
      options.teacher,
      options.config,
      options.tokenizer,
      ...(compose?.dirs ?? []),
    ].filter((p): p is string => p !== undefined);
    await prepareRunFolder(options.out, {
      resume: settings.resume ?? false,
      force: settings.force ?? false,
      sources,
    });
    const loaded = options.fromScratch
      ? await freshModel(options, shape && { ...shape, ...(loraKind && { loraKind }) }, settings)
      : await openModel(options);
    const model = withRouterOrDispose(loaded, options, settings);
    const router = morSettings(options, model);
    const threshold = thresholdOrDispose(options, model);
    const teacher = options.distill ? await teacherModel(options, model) : undefined;
    const composition = compose && (await compositionParts(model, compose));
    const bar = progressBar('training');
    const tokenizing = progressBar('tokenizing');
    const calibrating = progressBar('calibrating router thresholds');
    try {
      const trainable =
        (dvpt ? 'lora' : (options.trainable as TrainableSelection | undefined)) ??
        (adapter || composition ? 'lora' : (model.recur || model.masa) && !options.fromScratch ? 'shared+lora' : 'all');
      // --lora-layers with --lora-rank places the new adapter; without, it narrows the model's own LoRA
      const targets = adapter && (await loraLayerTargets(options, model));
      const trainableFilter = adapter ? undefined : await loraLayersFilter(options, model);
      const intact = await intactTraining(options, model);
      const recordIntervals = recordIntervalWindows(options);
      const result = await trainModel({
        ...settings,
        trainable,
        ...(trainableFilter && { trainableFilter }),
        ...(adapter && { adapter: targets ? { ...adapter, targets } : adapter }),
        ...(dvpt && { dvpt }),
        ...(composition && { composition }),
        ...(intact && { intact }),
        ...(recordIntervals !== undefined && { recordIntervals }),
        model,
        ...(router ? { router } : {}),
        ...(threshold !== undefined && { routerThreshold: threshold }),
        ...(exit ? { exit } : {}),
        ...(teacher ? { teacher } : {}),
        onProgress: (e) => report(e, bar, tokenizing, calibrating),
      });
      bar.stop();
      if (options.json) return printJson(result);
      printSummary(result);
    } finally {
      bar.stop();
      tokenizing.stop();
      calibrating.stop();
      disposeModel(model);
      if (teacher) disposeModel(teacher);
    }
  });
}

let calibrationStarted: number | undefined;

function report(event: TrainProgress, bar: Progress, tokenizing: Progress, calibrating: Progress): void {
  if (event.kind === 'calibrate') {
    bar.stop();
    calibrationStarted ??= performance.now();
    // a bar only when it takes a while
    if (performance.now() - calibrationStarted > 1000) calibrating.update(event.done, event.total);
  } else if (event.kind === 'tokenize') {
    tokenizing.update(event.done, event.total);
    if (event.done === event.total) tokenizing.stop();
  } else if (event.kind === 'step') {
    bar.update(event.step, event.steps, `loss ${event.loss.toFixed(4)} | ${event.tokensPerSecond.toFixed(0)} tok/s`);
  } else if (event.kind === 'warning') {
    process.stderr.write(`recur: warning: ${event.message}\n`);
  }
}

function runSettings(
  options: TrainCliOptions,
): Omit<TrainRunOptions, 'model' | 'teacher' | 'onProgress' | 'trainable'> {
  const int = (name: string, raw: string, min = 1) => parseNumber(name, raw, { integer: true, min });
  const steps = int('steps', options.steps);
  const peakLr = parseNumber('lr', options.lr, { min: 0 });
  const warmupSteps =
    options.warmup === undefined ? Math.min(20, Math.floor(steps / 10)) : int('warmup', options.warmup, 0);
  const minLrRatio = parseNumber('min-lr-ratio', options.minLrRatio, { min: 0, max: 1 });
  const schedules: Record<string, LrSchedule> = {
    cosine: { kind: 'cosine', peakLr, warmupSteps, totalSteps: steps, minLrRatio },
    wsd: { kind: 'wsd', peakLr, warmupSteps, totalSteps: steps, minLrRatio },
    constant: { kind: 'constant', lr: peakLr },
  };
  const schedule = schedules[options.schedule];
  if (!schedule)
    throw new UsageError(`--schedule must be one of ${Object.keys(schedules).join(', ')}, got "${options.schedule}"`);
  const known = [...selections, 'dvpt'];
  if (options.trainable !== undefined && !known.includes(options.trainable)) {
    throw new UsageError(`--trainable must be one of ${known.join(', ')}, got "${options.trainable}"`);
  }
  return {
    textFile: options.data!,
    out: options.out!,
    steps,
    ...(options.stopAt === undefined ? {} : { stopAt: int('stop-at', options.stopAt) }),
    seqLen: int('seq', options.seq, 2),
    batchSize: int('batch', options.batch),
    schedule,
    weightDecay: parseNumber('weight-decay', options.weightDecay, { min: 0 }),
    clipNorm: parseNumber('clip', options.clip, { min: 0 }),
    accumulation: int('accumulate', options.accumulate),
    valFraction: parseNumber('val-fraction', options.valFraction, { min: 0.001, max: 0.9 }),
    evalEvery: int('eval-every', options.evalEvery, 0),
    evalWindows: int('eval-windows', options.evalWindows),
    saveEvery: int('save-every', options.saveEvery, 0),
    keep: int('keep', options.keep),
    resume: options.resume ?? false,
    seed: parseSeed(options.seed),
    allowChanges: options.allowChanges ?? false,
    force: options.force ?? false,
    distillation: {
      alpha: parseNumber('kd-alpha', options.kdAlpha, { min: 0, max: 1 }),
      temperature: parseNumber('kd-temperature', options.kdTemperature, { min: 0.01 }),
    },
  };
}

/** --router-threshold checked against the model; the model is freed when refused. */
function thresholdOrDispose(options: TrainCliOptions, model: LoadedModel): ReturnType<typeof routerThreshold> {
  try {
    return routerThreshold(options, model);
  } catch (error) {
    disposeModel(model);
    throw error;
  }
}

/**
 * The model with a fresh router for --router, checked to fit --seq and memory; the loaded model is freed when refused.
 */
function withRouterOrDispose(model: LoadedModel, options: TrainCliOptions, settings: TrainingShape): LoadedModel {
  try {
    checkTrainingFits(model.decoder.config, settings, model.source.path);
    return modelWithRouter(model, options, parseSeed(options.seed));
  } catch (error) {
    disposeModel(model);
    throw error;
  }
}

async function freshModel(
  options: TrainCliOptions,
  recursive: ScratchModelOptions['recursive'],
  training: TrainingShape,
): Promise<LoadedModel> {
  await startBackend(options);
  const tokenizer = options.tokenizer
    ? { file: options.tokenizer }
    : {
        vocabSize: parseNumber('vocab-size', options.vocabSize, { integer: true, min: 260 }),
        corpusText: await readTextFile(options.data!),
      };
  return scratchModel({
    configFile: options.config!,
    tokenizer,
    dir: resolve(options.out!, 'tokenizer'),
    seed: parseSeed(options.seed),
    training: { batchSize: training.batchSize, seqLen: training.seqLen },
    ...(recursive ? { recursive } : {}),
  });
}

/** --teacher, else the source a converted model was made from. */
async function teacherModel(options: TrainCliOptions, student: LoadedModel): Promise<LoadedModel> {
  const path = options.teacher ?? student.recur?.source.path ?? student.masa?.section.source.path;
  if (!path)
    throw new UsageError(
      '--distill needs --teacher PATH (the model is not a converted one, so it has no source to distil from)',
    );
  const teacher = await loadModel(path).catch((error: Error) => {
    const why = options.teacher
      ? '--teacher'
      : `the source ${student.source.path} was converted from, recorded in its config.json`;
    throw new UsageError(
      `teacher ${path} (${why}) cannot be loaded: ${error.message.split('\n')[0]}; pass --teacher PATH`,
    );
  });
  if (teacher.config.vocabSize !== student.config.vocabSize) {
    disposeModel(teacher);
    throw new UsageError(
      `teacher ${path} has a vocabulary of ${teacher.config.vocabSize}, the student ${student.config.vocabSize}: distillation needs the same tokenizer`,
    );
  }
  return teacher;
}

function printSummary(result: Awaited<ReturnType<typeof trainModel>>): void {
  const ppl = (h: { perplexity: number } | null) => (h ? h.perplexity.toFixed(3) : '—');
  console.log(
    table([
      ['steps', 'trained params', 'tokens', 'tok/s', 'train loss', 'held-out ppl before', 'held-out ppl after'],
      [
        String(result.steps),
        result.trainedParameters.toLocaleString('en-US'),
        result.tokens.toLocaleString('en-US'),
        result.tokensPerSecond.toFixed(0),
        result.finalTrainLoss.toFixed(4),
        ppl(result.heldOut.before),
        ppl(result.heldOut.after),
      ],
    ]),
  );
  if (result.heldOut.after.averageDepth !== undefined)
    console.log(
      `router: held-out average depth ${result.heldOut.after.averageDepth.toFixed(2)} loops per token (training routing)`,
    );
  if (result.routerThresholds)
    console.log(
      `router: decode thresholds calibrated to capacity on the held-out split: σ > ${result.routerThresholds
        .slice(1)
        .map((t, i) => `r${i + 1} ${t.toPrecision(4)}`)
        .join(', ')}`,
    );
  if (result.intact)
    console.log(
      `InTAct: interval-drift penalty λ = ${result.intact.weight} on ${result.intact.constrainedWeights} weight matrices`,
    );
  if (result.intervalsDir) console.log(`activation intervals: ${result.intervalsDir}`);
  console.log(
    `${result.adapterDir ? `adapter: ${result.adapterDir} (on ${result.modelDir})` : result.dvptDir ? `dvpt: ${result.dvptDir} (on ${result.modelDir})` : result.compositionDir ? `composition: ${result.compositionDir} (on ${result.modelDir})` : `model: ${result.modelDir}`} · log: ${result.logFile} · chart: ${result.chartFile}${result.resumedFrom !== null ? ` · resumed from step ${result.resumedFrom}` : ''}`,
  );
}
