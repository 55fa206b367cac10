import { join } from 'node:path';
import { AdamW, Trainer } from '@recur/train';
import { checkIdentity, modelIdentity, resumeTraining } from '@recur/train/node';
import { withRouterThreshold } from '../../depth/calibrateRouter.js';
import { disposeModel } from '../../model.js';
import { hfConfigJson } from '../../recurConfig.js';
import { intactObjective } from '../../intact/runIntact.js';
import { json, tokenizerFiles, writeAtomic } from '../files.js';
import { recordRunIntervals } from '../intact/recordRun.js';
import { trainingData, tokenizerIdentity } from './data.js';
import { checkFiniteWeights } from './finite.js';
import { checkTrainingFits } from './limits.js';
import { appendLog, CHART_FILE, LOG_FILE, resumeLog, writeChart } from './log.js';
import { morTraining, objectiveOf, trainingModeOf, type Evaluate } from './modes/index.js';
import { checkSettings, restoreFrozenState, resumePoint } from './resume.js';
import { prepareRunFolder } from './runFolder.js';
import type { HeldOut, TrainRunOptions, TrainRunResult } from './runTypes.js';
import { runRecord } from './settings.js';
import { runSteps } from './steps.js';

export type { MorSettings, TrainProgress, TrainRunOptions, TrainRunResult } from './runTypes.js';

/**
 * Trains a model on a text file: tokenize once (cached), hold out documents, AdamW under a schedule,
 * optional distillation, periodic held-out evaluation and atomic checkpoints, a JSONL log and an SVG
 * loss curve; writes what the run's mode trains (`modes/`: the model to `<out>/model`, or a new adapter,
 * DVPT modules or a composition beside it). Resumable exactly. A step with a non-finite loss or gradient
 * stops the run (TrainingDivergedError) before its update: the checkpoints already saved stay, and no
 * model is written.
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
  const trained = trainingModeOf(options).start(options);
  const optimizer = new AdamW(trained.params, { weightDecay: options.weightDecay ?? 0.01 });
  const objectiveMode = objectiveOf(options, mor, trained);
  const objective = objectiveMode.objective(trained, options, mor);
  const intact = intactObjective(objective, trained.params, options.model.decoder.weights, options.intact);
  const evaluate = objectiveMode.evaluate(trained, mor);
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
    const loop = { trainer, objective, trained, evaluate, evalSet, checkpoints, identity };
    const { tokens, lastLoss, seconds } = await runSteps(options, loop);
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
    const finished =
      options.routerThreshold === undefined
        ? trained.model
        : withRouterThreshold(trained.model, options.routerThreshold, {
            windows: finalSet,
            onProgress: (done, total) => options.onProgress?.({ kind: 'calibrate', done, total }),
          });
    const output = await trained.save(options.out, finished);
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
      modelDir: output.modelDir,
      ...(output.adapterDir && { adapterDir: output.adapterDir }),
      ...(output.dvptDir && { dvptDir: output.dvptDir }),
      ...(output.compositionDir && { compositionDir: output.compositionDir }),
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
    trained.dispose();
  }
}

function heldOut(evaluate: Evaluate, windows: readonly Int32Array[]): HeldOut {
  const { meanNll, tokens, averageDepth } = evaluate(windows);
  return { meanNll, perplexity: Math.exp(meanNll), tokens, ...(averageDepth !== undefined && { averageDepth }) };
}
