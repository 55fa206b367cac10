import { Command } from 'commander';
import { registerEval } from './commands/eval.js';
import { registerBench } from './commands/bench.js';
import { registerConvert } from './commands/convert.js';
import { registerExport } from './commands/export.js';
import { registerTrain } from './commands/train.js';
import { registerGenerate } from './commands/generate.js';
import { registerInspect } from './commands/inspect.js';
import { registerServe } from './commands/serve.js';
import { registerSampleCorpus } from './commands/sampleCorpus.js';
import { registerDiagnose } from './commands/diagnose.js';
import { registerGradientConflict } from './commands/gradientConflict.js';
import { reportFailure } from './errors.js';
// Bundled into dist/recur.js by tsup, so an installed `recur --version` needs no file beside it.
import { version } from '../package.json';

const program = new Command()
  .name('recur')
  .description(
    'Recur: recursive (parameter-shared) transformers — load, inspect, convert, export, train, generate, evaluate, serve, diagnose',
  )
  .version(version)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride((err) => process.exit(err.exitCode));

registerInspect(program);
registerGenerate(program);
registerEval(program);
registerBench(program);
registerConvert(program);
registerExport(program);
registerTrain(program);
registerServe(program);
registerSampleCorpus(program);
registerDiagnose(program);
registerGradientConflict(program);

program.parseAsync(process.argv).catch(reportFailure);
