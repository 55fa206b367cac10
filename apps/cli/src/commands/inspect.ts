import type { Command } from 'commander';
import { activeBackend } from '@recur/tensor';
import {
  disposeModel,
  masaStoredParameters,
  type LoadedModel,
  type RecurSection,
  type RouterSection,
} from '@recur/engine';
import { openModel, printJson, table, type ModelOptions } from './shared.js';

interface InspectOptions extends ModelOptions {
  readonly json?: boolean;
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('show a model: architecture, parameter count and tensor table')
    .argument('[model]', 'model path (same as --model)')
    .option('--model <path>', 'Hugging Face folder, .safetensors or .gguf file')
    .option('--backend <name>', 'tensor backend: wasm (default in Node), cpu')
    .option('--json', 'print one JSON object')
    .action(async (positional: string | undefined, options: InspectOptions) => {
      const model = await openModel({ ...options, model: options.model ?? positional });
      const tensors = model.tensors.map((t) => ({ ...t, elements: t.shape.reduce((a, b) => a * b, 1) }));
      const summary = {
        path: model.source.path,
        format: model.source.format,
        backend: activeBackend(),
        config: model.config,
        contextSource: model.source.contextSource ?? null,
        parameters: model.decoder.parameterCount,
        recur: model.recur ?? null,
        // unique parameters: MoS pools, or a generated kind's stored ones, not the per-loop factors they materialise
        loraParameters: (model.mos ?? model.generatedLora ?? model.lora)?.parameterCount ?? 0,
        masa: masaSummary(model),
        tensors,
      };
      disposeModel(model);
      if (options.json) return printJson(summary);
      const c = model.config;
      console.log(`${summary.path} (${summary.format}, ${c.architecture})`);
      console.log(
        `layers ${c.numLayers} · hidden ${c.hiddenSize} · heads ${c.numHeads}/${c.numKvHeads} kv · head_dim ${c.headDim} · ffn ${c.intermediateSize} · vocab ${c.vocabSize} · tied ${c.tieWordEmbeddings}`,
      );
      console.log(`parameters ${summary.parameters.toLocaleString('en-US')}`);
      const from = summary.contextSource;
      console.log(
        `context ${c.maxPositionEmbeddings}${from ? (from.startsWith('default') ? ` (${from})` : ` (from ${from})`) : ''}`,
      );
      const m = summary.masa;
      if (m)
        console.log(
          `MASA: ${m.modules.join(', ')} of every layer from ${m.atoms} shared atoms each (uncentred SVD init) · unique parameters ${m.parameters.toLocaleString('en-US')} · F32 bytes ${m.bytes.toLocaleString('en-US')} (materialised ${summary.parameters.toLocaleString('en-US')})`,
        );
      const r = summary.recur;
      if (r) {
        console.log(
          `recursive: ${r.strategy}, ${r.loops} loops of ${r.blockSize} shared layers (${r.init} init), run order [${r.layerOrder.join(' ')}]`,
        );
        console.log(
          `${loraKindLine(r)}: ${summary.loraParameters.toLocaleString('en-US')} parameters (${r.loraInit} init, ranks attn ${r.ranks.attention} / mlp ${r.ranks.mlp}, norms ${r.norms})`,
        );
        if (r.router) console.log(routerLine(r.router, r.loops));
      }
      console.log('');
      const rows = tensors.map((t) => [t.name, `[${t.shape.join(', ')}]`, t.dtype, t.elements.toLocaleString('en-US')]);
      console.log(table([['tensor', 'shape', 'dtype', 'elements'], ...rows]));
    });
}

/** "router: expert-choice (linear), α 0.1, 3 recursions, continues while σ > 0.5, KV recursion-wise" */
function routerLine(router: RouterSection, recursions: number): string {
  const rule =
    router.kind === 'expert'
      ? `, continues while σ > ${expertRule(router)}`
      : `, depth chosen up front (${router.tokenForm ?? 'gated-every-loop'} form, ${router.balance ?? 'loss'} balancing)`;
  const arch = router.kind === 'expert' ? ` (${router.architecture}), α ${router.alpha}` : '';
  return `router: ${router.kind}-choice${arch}, ${recursions} recursions${rule}, KV ${router.kvMode} · runs by default (--exit none: full depth)`;
}

/** "0.5", or calibrated per recursion: "r1 0.4821, r2 0.5312 (calibrated to capacity)". */
function expertRule(router: RouterSection): string {
  if (!router.thresholds) return String(router.threshold ?? 0.5);
  return `${router.thresholds
    .slice(1)
    .map((t, i) => `r${i + 1} ${t.toPrecision(4)}`)
    .join(', ')} (calibrated to capacity)`;
}

/** A MASA model's section with what it stores: atoms and coefficients in place of the per-layer matrices. */
function masaSummary(model: LoadedModel) {
  if (!model.masa) return null;
  const parameters = masaStoredParameters(model.decoder.parameterCount, model.masa);
  return { ...model.masa.section, parameters, bytes: parameters * 4 };
}

/** How a converted model's per-loop LoRA is stored (recur.loraKind, settings in recur.mos / recur.hyper; absent = depth-wise). */
function loraKindLine(r: RecurSection): string {
  const mos = r.mos;
  if (r.loraKind === 'mos' && mos)
    return `MoS LoRA (pool ${mos.pool}, ${mos.shards} shards/vector, ${mos.private} private${mos.subset ? '' : ', no subset'}${mos.dissociation ? '' : ', no dissociation'})`;
  if (r.loraKind === 'hyper')
    return `hyper LoRA (generated from loop and position embeddings, H = ${r.hyper?.hyperDim ?? '?'})`;
  if (r.loraKind === 'scaled') return 'scaled LoRA (a template per layer, a scale per loop)';
  return 'depth-wise LoRA';
}
