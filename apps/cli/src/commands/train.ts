import type { Command } from 'commander';
import { disposeModel, type TrainableSelection } from '@recur/engine';
import { prepareRunFolder, trainModel } from '@recur/engine/node';
import { UsageError } from '../errors.js';
import { progressBar } from '../progress.js';
import { addExitTrainingOptions, exitTraining } from './exitTrainingOptions.js';
import { addRouterOptions, checkRouterFlags, morSettings, recursiveShape } from './routerOptions.js';
import { addAdapterTrainingOptions } from './adapterOptions.js';
import { addComposeTrainingOptions, compositionParts } from './composeOptions.js';
import { loraLayersFilter, loraLayersFlag, loraLayersHelp, loraLayerTargets } from './loraLayersOption.js';
import { addDvptTrainingOptions, dvptTrainableHelp } from './dvptOptions.js';
import { addIntactOptions, checkIntactFlags, intactTraining, recordIntervalWindows } from './intactOptions.js';
import { freshLoraKind } from './loraKindOptions.js';
import { openModel, printJson } from './shared.js';
import { domainFlag, domainHelp } from './domainOptions.js';
import { freshModel, teacherModel, thresholdOrDispose, withRouterOrDispose } from './trainModels.js';
import { runSettings, selections, type TrainCliOptions } from './trainSettings.js';
import { printSummary, report } from './trainSummary.js';
import { modeFlags, modeOf } from './trainModes.js';

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
    const { dvpt, adapter, compose } = modeFlags(options);
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
      // the engine's table of training modes decides what trains and what the run writes
      const mode = modeOf({ adapter, dvpt, composition });
      const given = options.trainable as TrainableSelection | undefined;
      const trainable = mode.trainable(given, model, options.fromScratch ?? false);
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
      printSummary(result, mode);
    } finally {
      bar.stop();
      tokenizing.stop();
      calibrating.stop();
      disposeModel(model);
      if (teacher) disposeModel(teacher);
    }
  });
}
