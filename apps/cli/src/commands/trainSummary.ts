import type { TrainingMode, TrainProgress, TrainRunResult } from '@recur/engine/node';
import type { Progress } from '../progress.js';
import { table } from './shared.js';

let calibrationStarted: number | undefined;

/** Progress events onto the bars (and warnings onto stderr). */
export function report(event: TrainProgress, bar: Progress, tokenizing: Progress, calibrating: Progress): void {
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

/** The run's table, its router and InTAct notes, and the folders it wrote. */
export function printSummary(result: TrainRunResult, mode: TrainingMode): void {
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
  // what the run's mode wrote: the model, or an adapter, DVPT modules or a composition on its base model
  const { label, dir } = mode.output(result);
  const written = mode.name === 'model' ? `${label}: ${dir}` : `${label}: ${dir} (on ${result.modelDir})`;
  console.log(
    `${written} · log: ${result.logFile} · chart: ${result.chartFile}${result.resumedFrom !== null ? ` · resumed from step ${result.resumedFrom}` : ''}`,
  );
}
