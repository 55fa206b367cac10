import { TrainingDivergedError, type Trainer } from '@recur/train';
import { saveCheckpoint, type ModelIdentity } from '@recur/train/node';
import { TrainRunError } from './errors.js';
import { checkFiniteWeights } from './finite.js';
import { appendLog, type LogRecord } from './log.js';
import type { Evaluate, RunObjective } from './modes/index.js';
import type { TrainRunOptions } from './runTypes.js';
import { runRecord } from './settings.js';
import type { TrainableModel } from './trainable.js';

/** What the step loop needs beside the options: the trainer, its objective, the copy it trains and its checkpoints. */
export interface StepLoop {
  readonly trainer: Trainer;
  readonly objective: RunObjective;
  readonly trained: TrainableModel;
  readonly evaluate: Evaluate;
  /** Windows of the periodic held-out evaluations. */
  readonly evalSet: readonly Int32Array[];
  readonly checkpoints: string;
  readonly identity: ModelIdentity;
}

/**
 * Optimizer steps up to `steps` (or `stopAt`): each logged (train.jsonl) and reported, a held-out
 * evaluation every `evalEvery` steps, a checkpoint every `saveEvery` steps and at the last one.
 */
export async function runSteps(
  options: TrainRunOptions,
  loop: StepLoop,
): Promise<{ tokens: number; lastLoss: number; seconds: number }> {
  const { trainer, trained } = loop;
  const started = performance.now();
  let tokens = 0;
  let lastLoss = NaN;
  const last = Math.min(options.steps, options.stopAt ?? Infinity);
  while (trainer.step < last) {
    const stepStart = performance.now();
    const result = stepOrStop(trainer, options.out);
    loop.objective.afterStep?.(result.step);
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
      const { meanNll, tokens: evalTokens } = loop.evaluate(loop.evalSet);
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
      const dir = await saveCheckpoint(loop.checkpoints, {
        trainer,
        model: trained.tensors,
        identity: loop.identity,
        keep: options.keep ?? 3,
        options: runRecord(options),
        ...(options.onCheckpointFile && { onFileWritten: options.onCheckpointFile }),
      });
      options.onProgress?.({ kind: 'saved', step: trainer.step, dir });
    }
  }
  return { tokens, lastLoss, seconds: (performance.now() - started) / 1000 };
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
