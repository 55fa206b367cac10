import type { Command } from 'commander';
import { disposeModel } from '@recur/engine';
import { checkModelOutput, exportGguf, exportModel, exportTorch } from '@recur/engine/node';
import { UsageError } from '../errors.js';
import { openModel, printJson, type ModelOptions } from './shared.js';
import { dvptFlag, refuseDvptExport } from './dvptOptions.js';
import { checkDomainExport, domainFlag, domainHelp } from './domainOptions.js';

interface ExportCliOptions extends ModelOptions {
  readonly dropRouter?: boolean;
  readonly out?: string;
  readonly lora: string;
  readonly gguf?: boolean;
  readonly torch?: boolean;
  readonly dtype: string;
  readonly force?: boolean;
  readonly json?: boolean;
}

const loraModes = ['merge', 'peft', 'drop'] as const;
/** --dtype values and the ggml type each writes for the weight matrices. */
const ggufDtypes = { f32: 'F32', f16: 'F16', q8_0: 'Q8_0', q4_0: 'Q4_0' } as const;
type CliDtype = keyof typeof ggufDtypes;

const compositionExportHelp =
  'a ScaLearn composition folder (recur train --compose) for this model: folded into its LoRA, so --lora merge writes it into dense weights (exact) and --lora peft writes it as one adapter; a gated composition is refused';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description(
      'write a model as a plain Llama (Hugging Face folder, or a llama.cpp GGUF file with --gguf; a recursive model is unrolled to one layer per loop step), or as a PyTorch model folder with --torch (recursive structure, LoRA and router kept)',
    )
    .argument('<model>', 'Hugging Face folder, .safetensors or .gguf file (a converted Recur model included)')
    .option('--out <path>', 'folder to write to (a .gguf file with --gguf)')
    .option('--gguf', 'write one llama.cpp GGUF file instead of a Hugging Face folder')
    .option(
      '--torch',
      "write a PyTorch folder: modeling_recur.py + sharing_recur.py (RecurForCausalLM.from_pretrained(DIR); loops, LoRA of every kind as stored (depth-wise, scaled, hyper, MoS), MASA atoms, per-loop norms and MoR router as Recur runs them), config.json, model.safetensors (Recur's tensor names), uptrain_recur.py (torchrun DDP), tokenizer",
    )
    .option(
      '--dtype <t>',
      'GGUF weight matrices: f32 (exact), f16, q8_0 or q4_0 (llama.cpp block quantization; norms stay f32, and a matrix whose rows are not whole 32-blocks stays f32)',
      'f32',
    )
    .option(
      '--lora <mode>',
      'depth-wise LoRA of a converted model: merge (into dense weights), peft (adapter folder <out>/adapter; refused for per-loop norms, which only merge keeps), drop',
      'merge',
    )
    .option('--composition <dir>', compositionExportHelp)
    .option('--backend <name>', 'tensor backend: wasm (default in Node), cpu')
    .option(domainFlag, domainHelp)
    .option(
      '--drop-router',
      'export a MoR router model at full depth without its router (a plain Llama cannot hold one; refused otherwise)',
    )
    .option(
      dvptFlag,
      'refused: a DVPT folder is input-dependent (its prompts attend to each sequence), so no export or --lora merge can hold it (also when <model> is a DVPT folder)',
    )
    .option('--force', 'replace an --out folder or file that export did not write (the whole of it)')
    .option('--json', 'print one JSON summary')
    .action(async (path: string, options: ExportCliOptions) => {
      refuseDvptExport(path, options);
      if (!options.out) throw new UsageError(options.gguf ? '--out FILE.gguf is required' : '--out DIR is required');
      const lora = options.lora as (typeof loraModes)[number];
      if (!loraModes.includes(lora))
        throw new UsageError(`--lora must be one of ${loraModes.join(', ')}, got "${options.lora}"`);
      if (!Object.hasOwn(ggufDtypes, options.dtype))
        throw new UsageError(`--dtype must be one of ${Object.keys(ggufDtypes).join(', ')}, got "${options.dtype}"`);
      if (options.dtype !== 'f32' && !options.gguf)
        throw new UsageError('--dtype applies to --gguf; a Hugging Face folder is written in f32');
      if (options.gguf && lora === 'peft')
        throw new UsageError('--lora peft writes an adapter folder; with --gguf use merge or drop');
      if (options.torch) return exportTorchFolder(path, options.out, options);
      const target = { sources: [path], force: options.force ?? false };
      await checkModelOutput(options.out, options.gguf ? 'gguf' : 'folder', target); // refuse before loading
      const started = performance.now();
      const model = await openModel({
        model: path,
        ...(options.backend ? { backend: options.backend } : {}),
        ...(options.composition !== undefined && { composition: options.composition }),
        ...(options.domain !== undefined && { domain: options.domain }),
      });
      if (model.composition?.fusion) {
        disposeModel(model);
        throw new UsageError(
          `--composition ${options.composition}: a gated composition mixes its adapters per token and cannot be exported; ScaLearn compositions export (--lora merge or peft)`,
        );
      }
      checkDomainExport(model, options.domain, false);
      if (options.gguf) {
        const dtype = ggufDtypes[options.dtype as CliDtype];
        const written = await exportGguf(model, options.out, {
          dtype,
          lora: lora as 'merge' | 'drop',
          dropRouter: options.dropRouter ?? false,
          ...target,
        }).finally(() => disposeModel(model));
        const seconds = (performance.now() - started) / 1000;
        if (options.json) return printJson({ ...written, dtype, lora, seconds });
        const types = Object.entries(written.tensorTypes)
          .map(([type, n]) => `${n} ${type}`)
          .join(' + ');
        return console.log(
          `${written.path}: GGUF ${dtype}, ${written.numLayers} layers, tensors ${types}, ${written.bytes.toLocaleString('en-US')} bytes · ${seconds.toFixed(1)} s`,
        );
      }
      const result = await exportModel(model, options.out, {
        lora,
        dropRouter: options.dropRouter ?? false,
        ...target,
      }).finally(() => disposeModel(model));
      const seconds = (performance.now() - started) / 1000;
      if (options.json) return printJson({ ...result, lora, adapterDir: result.adapterDir ?? null, seconds });
      const fmt = (n: number) => n.toLocaleString('en-US');
      console.log(
        `${result.dir}: ${result.numLayers} layers, ${fmt(result.parameters)} parameters, ${fmt(result.bytes)} bytes of weights · ${seconds.toFixed(1)} s`,
      );
      if (result.adapterDir) console.log(`PEFT adapter: ${result.adapterDir} (base model: ${result.dir})`);
    });
}

/** --torch: the model as it is (nothing unrolled or merged), so --lora, --dtype, --gguf and --drop-router do not apply. */
async function exportTorchFolder(path: string, out: string, options: ExportCliOptions): Promise<void> {
  const clash = [
    options.gguf && '--gguf',
    options.dropRouter && '--drop-router',
    options.dtype !== 'f32' && '--dtype',
    options.lora !== 'merge' && '--lora',
    options.composition !== undefined && '--composition',
  ].find(Boolean);
  if (clash)
    throw new UsageError(
      `${clash} does not apply to --torch (the folder keeps the recursive model whole: its LoRA and router included)`,
    );
  const target = { sources: [path], force: options.force ?? false };
  await checkModelOutput(out, 'folder', target); // refuse before loading
  const started = performance.now();
  const model = await openModel({ model: path, ...(options.backend ? { backend: options.backend } : {}) });
  checkDomainExport(model, options.domain, true);
  const result = await exportTorch(model, out, target).finally(() => disposeModel(model));
  const seconds = (performance.now() - started) / 1000;
  if (options.json) return printJson({ ...result, format: 'torch', seconds });
  const depth =
    result.loops > 1 ? `${result.loops} loops${result.router ? `, ${result.router}-choice router` : ''}` : 'plain';
  console.log(
    `${result.dir}: PyTorch folder (${depth}), ${result.tensors} tensors, ${result.parameters.toLocaleString('en-US')} parameters, ${result.bytes.toLocaleString('en-US')} bytes of weights · ${seconds.toFixed(1)} s`,
  );
}
