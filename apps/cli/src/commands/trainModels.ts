import { resolve } from 'node:path';
import { disposeModel, type LoadedModel } from '@recur/engine';
import {
  checkTrainingFits,
  loadModel,
  readTextFile,
  scratchModel,
  type ScratchModelOptions,
  type TrainingShape,
} from '@recur/engine/node';
import { parseNumber, UsageError } from '../errors.js';
import { modelWithRouter, routerThreshold } from './routerOptions.js';
import { parseSeed } from './samplingFlags.js';
import { startBackend } from './shared.js';
import type { TrainCliOptions } from './trainSettings.js';

/** --router-threshold checked against the model; the model is freed when refused. */
export function thresholdOrDispose(options: TrainCliOptions, model: LoadedModel): ReturnType<typeof routerThreshold> {
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
export function withRouterOrDispose(
  model: LoadedModel,
  options: TrainCliOptions,
  settings: TrainingShape,
): LoadedModel {
  try {
    checkTrainingFits(model.decoder.config, settings, model.source.path);
    return modelWithRouter(model, options, parseSeed(options.seed));
  } catch (error) {
    disposeModel(model);
    throw error;
  }
}

export async function freshModel(
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
export async function teacherModel(options: TrainCliOptions, student: LoadedModel): Promise<LoadedModel> {
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
