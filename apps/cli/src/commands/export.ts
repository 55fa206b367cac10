import type { Command } from 'commander';
import { disposeModel } from '@recur/engine';
import { exportModel } from '@recur/engine/node';
import { UsageError } from '../errors.js';
import { openModel, printJson, type ModelOptions } from './shared.js';

interface ExportCliOptions extends ModelOptions {
  readonly out?: string;
  readonly lora: string;
  readonly json?: boolean;
}

const loraModes = ['merge', 'peft', 'drop'] as const;

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write a model as a plain Hugging Face Llama folder; a recursive model is unrolled to one layer per loop step')
    .argument('<model>', 'Hugging Face folder, .safetensors or .gguf file (a converted Recur model included)')
    .option('--out <dir>', 'folder to write to')
    .option('--lora <mode>', 'depth-wise LoRA of a converted model: merge (into dense weights), peft (adapter folder <out>/adapter), drop', 'merge')
    .option('--backend <name>', 'tensor backend: wasm (default in Node), cpu')
    .option('--json', 'print one JSON summary')
    .action(async (path: string, options: ExportCliOptions) => {
      if (!options.out) throw new UsageError('--out DIR is required');
      const lora = options.lora as (typeof loraModes)[number];
      if (!loraModes.includes(lora)) throw new UsageError(`--lora must be one of ${loraModes.join(', ')}, got "${options.lora}"`);
      const started = performance.now();
      const model = await openModel({ model: path, ...(options.backend ? { backend: options.backend } : {}) });
      const result = await exportModel(model, options.out, { lora }).finally(() => disposeModel(model));
      const seconds = (performance.now() - started) / 1000;
      if (options.json) return printJson({ ...result, lora, adapterDir: result.adapterDir ?? null, seconds });
      const fmt = (n: number) => n.toLocaleString('en-US');
      console.log(`${result.dir}: ${result.numLayers} layers, ${fmt(result.parameters)} parameters, ${fmt(result.bytes)} bytes of weights · ${seconds.toFixed(1)} s`);
      if (result.adapterDir) console.log(`PEFT adapter: ${result.adapterDir} (base model: ${result.dir})`);
    });
}
