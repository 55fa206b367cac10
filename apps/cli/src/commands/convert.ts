import type { Command } from 'commander';
import type { ConvertOptions, LoraKind } from '@recur/engine';
import { addDomainEnds, checkModelOutput, convertToFolder } from '@recur/engine/node';
import { parseNumber, UsageError } from '../errors.js';
import { progressBar } from '../progress.js';
import { printJson, startBackend, table, type ModelOptions } from './shared.js';
import { parseSeed } from './samplingFlags.js';
import { checkSharingFlags, runMasaConvert } from './convertMasa.js';
import { addLoraKindOptions, loraKindSettings, type LoraKindCliOptions } from './loraKindOptions.js';
import { checkEchoFlags, checkEchoOnlyFlags, runEchoConvert } from './convertEcho.js';
import { addEndsOption, endsNames } from './domainOptions.js';

interface ConvertCliOptions extends ModelOptions, LoraKindCliOptions {
  readonly out?: string;
  readonly loops: string;
  readonly strategy: string;
  readonly ends?: string;
  readonly depthFit: string;
  readonly init: string;
  readonly loraRankAttn: string;
  readonly loraRankMlp: string;
  readonly loraInit: string;
  readonly loraScale: string;
  readonly norms: string;
  readonly seed: string;
  readonly force?: boolean;
  readonly json?: boolean;
  readonly sharing: string;
  readonly atoms?: string;
  readonly masaModules: string;
  readonly echoAttention?: string;
  readonly echoThreshold: string;
  readonly data?: string;
  readonly window: string;
  readonly echoWindows: string;
}

const strategies = ['cycle', 'sequence', 'middle-cycle', 'middle-sequence'] as const;
const inits = ['stepwise', 'average', 'lower', 'upper', 'random'] as const;

export function registerConvert(program: Command): void {
  const command = program
    .command('convert')
    .description(
      'turn a model into a Relaxed Recursive Transformer (a shared block looped N times plus depth-wise LoRA), or with --sharing masa share its attention as matrix atoms',
    )
    .argument('<source>', 'Hugging Face folder, .safetensors or .gguf file')
    .option('--out <dir>', 'folder to write the converted model to')
    .option('--loops <n>', 'N: how many times the shared block runs', '2')
    .option('--strategy <s>', `layer tying: ${strategies.join(', ')}`, 'cycle')
    .option(
      '--depth-fit <rule>',
      'when the depth does not divide by the loops: floor (K = ⌊L/N⌋, drops source layers, as the public MoR code) or round (K = round(L/N), repeats source layers)',
      'floor',
    )
    .option('--init <i>', `shared-block init: ${inits.join(', ')}`, 'stepwise')
    .option('--lora-rank-attn <r>', 'LoRA rank of q, k, v, o (0 = none, "full" = exact)', '8')
    .option('--lora-rank-mlp <r>', 'LoRA rank of gate, up, down (0 = none, "full" = exact)', '8')
    .option('--lora-init <i>', 'svd (truncated SVD of what tying lost) or zero', 'svd')
    .option('--lora-scale <s>', 'multiplier of B·A (1 keeps SVD factors exact)', '1')
    .option('--norms <mode>', 'RMSNorm weights: tied (with the block) or per-loop', 'tied')
    .option('--seed <n>', 'seed for random inits: an integer in [0, 2^32 − 1]', '0')
    .option('--backend <name>', 'tensor backend: wasm (default in Node), cpu')
    .option(
      '--sharing <kind>',
      'recursive (a looped block, the options above) or masa (each attention projection type of every layer a combination of --atoms shared matrix atoms; plain models, no looping)',
      'recursive',
    )
    .option('--atoms <S>', 'masa: atoms per projection type, 1..layers (= layers is lossless)')
    .option('--masa-modules <list>', 'masa: projections to share, some of q,k,v,o, or all', 'all')
    .option(
      '--echo-attention <plan>',
      'EchoAtt: steps reuse an earlier step’s attention maps and drop their q/k — STEP<-SOURCE list (e.g. 3<-2,4<-2) or auto (from the maps’ similarity on --data); converts SRC as it is (plain or a converted folder)',
    )
    .option('--echo-threshold <x>', 'auto: least attention-map similarity (1 − JS in bits) to reuse', '0.9')
    .option('--data <file>', 'auto: UTF-8 text the attention maps are compared on')
    .option('--window <n>', 'auto: tokens per window, BOS included', '128')
    .option('--echo-windows <n>', 'auto: windows of --data measured', '8')
    .option('--force', 'replace a non-empty --out folder that convert did not write (the whole folder)')
    .option('--json', 'print one JSON summary')
    .action(async (source: string, options: ConvertCliOptions, command: Command) => {
      checkSharingFlags(options.sharing, command);
      if (options.echoAttention !== undefined) {
        checkEchoFlags(command);
        if (options.sharing !== 'recursive')
          throw new UsageError('--echo-attention is not combined with --sharing masa');
        return runEchoConvert(source, options);
      }
      checkEchoOnlyFlags(command);
      if (options.sharing === 'masa') return runMasaConvert(source, options);
      if (!options.out) throw new UsageError('--out DIR is required');
      const settings = convertSettings(options);
      const ends = endsNames(options.ends, settings.strategy);
      if (settings.loraKind === 'mos' && command.getOptionValueSource('loraInit') === 'cli')
        throw new UsageError(
          '--lora-init does not apply with --lora-kind mos: its B pool starts at zero (no SVD start)',
        );
      const target = { sources: [source], force: options.force ?? false };
      await checkModelOutput(options.out, 'folder', target); // refuse before the (slow) conversion
      const started = performance.now();
      await startBackend({ ...(options.backend ? { backend: options.backend } : {}) });
      const bar = progressBar('converting');
      // streamed: the source is read and model.safetensors written one tensor (one shared step) at a time
      const model = await convertToFolder(source, options.out, {
        ...settings,
        ...target,
        onProgress: (done, total) => bar.update(done, total),
      }).finally(() => bar.stop());
      if (ends) await addDomainEnds(options.out, ends);
      const seconds = (performance.now() - started) / 1000;
      const energy = model.loraEnergy;
      const summary = {
        out: options.out,
        ...settings,
        ends: ends ?? null,
        blockSize: model.plan.blockSize,
        sourceLayers: model.plan.steps.map((s) => s.sourceLayer),
        warning: model.plan.warning ?? null,
        lora: {
          energy,
          captured: capturedSummary(energy),
        },
        ...(model.mos && { mosParameters: { ...model.mos, ratio: model.mos.depthwise / model.mos.pools } }),
        parameters: {
          source: model.parameters.source,
          shared: model.parameters.shared,
          lora: model.parameters.lora,
          total: model.parameters.shared + model.parameters.lora,
        },
        bytes: { source: model.parameters.source * 4, converted: model.bytes },
        seconds,
      };
      if (options.json) return printJson(summary);
      if (summary.warning) process.stderr.write(`recur: warning: ${summary.warning}\n`);
      const p = summary.parameters;
      const fmt = (n: number) => n.toLocaleString('en-US');
      // Each column holds one kind of number; the file written (header included) gets its own line.
      console.log(
        table([
          ['', 'parameters', 'F32 bytes (parameters × 4)'],
          ['source', fmt(p.source), fmt(p.source * 4)],
          ['recursive (shared block)', fmt(p.shared), fmt(p.shared * 4)],
          [`+ ${loraLabel[settings.loraKind]}`, fmt(p.lora), fmt(p.lora * 4)],
          ['converted total', fmt(p.total), fmt(p.total * 4)],
        ]),
      );
      console.log(`model.safetensors: ${fmt(model.bytes)} bytes written`);
      if (summary.mosParameters)
        console.log(
          `MoS: ${fmt(summary.mosParameters.pools)} unique LoRA parameters in shard pools vs ${fmt(summary.mosParameters.depthwise)} for depth-wise LoRA at equal rank (${summary.mosParameters.ratio.toFixed(2)}× fewer)`,
        );
      console.log(`source layers run (depth fit ${settings.depthFit}): [${summary.sourceLayers.join(', ')}]`);
      const captured = summary.lora.captured;
      if (captured)
        console.log(
          `SVD LoRA keeps ${pct(captured.min)} (min) / ${pct(captured.mean)} (mean) of each residual's energy over ${energy.length} truncations, ${pct(captured.overall)} of all residual energy`,
        );
      console.log(
        `${settings.strategy}, ${settings.loops} loops of ${summary.blockSize} shared layers, ${settings.init} init · written to ${options.out} in ${seconds.toFixed(1)} s`,
      );
    });
  // the LoRA-kind flags live in their own file, shared with train
  addLoraKindOptions(command);
  addEndsOption(command); // Uni-X per-domain ends
}

const loraLabel: Record<LoraKind, string> = {
  depthwise: 'depth-wise LoRA',
  mos: 'MoS LoRA (pools, norms)',
  hyper: 'hyper LoRA (generators, embeddings)',
  scaled: 'scaled LoRA (templates, scales)',
};

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

function convertSettings(
  options: ConvertCliOptions,
): ConvertOptions & { depthFit: 'floor' | 'round'; loraKind: LoraKind } {
  const oneOf = <T extends string>(name: string, value: string, allowed: readonly T[]): T => {
    if (!allowed.includes(value as T))
      throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got "${value}"`);
    return value as T;
  };
  const rank = (name: string, raw: string) => {
    if (raw === 'full') return 'full' as const;
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(value) || value < 0)
      throw new UsageError(`--${name} must be an integer ≥ 0 or "full", got "${raw}"`);
    return value;
  };
  return {
    loops: parseNumber('loops', options.loops, { integer: true, min: 1 }),
    strategy: oneOf('strategy', options.strategy, strategies),
    depthFit: oneOf('depth-fit', options.depthFit, ['floor', 'round'] as const),
    init: oneOf('init', options.init, inits),
    ranks: { attention: rank('lora-rank-attn', options.loraRankAttn), mlp: rank('lora-rank-mlp', options.loraRankMlp) },
    loraInit: oneOf('lora-init', options.loraInit, ['svd', 'zero'] as const),
    loraScale: parseNumber('lora-scale', options.loraScale),
    norms: oneOf('norms', options.norms, ['tied', 'per-loop'] as const),
    seed: parseSeed(options.seed),
    ...loraKindSettings(options, parseSeed(options.seed)),
  };
}

/**
 * Shares of residual energy the SVD truncations keep: per residual (min, mean; a zero residual counts as
 * kept whole) and over all of them, Σᵢcapturedᵢ·Eᵢ / ΣᵢEᵢ — what tying lost that the LoRA restores.
 */
function capturedSummary(
  energy: readonly { captured: number; residualEnergy: number }[],
): { min: number; mean: number; overall: number } | null {
  if (energy.length === 0) return null;
  const total = energy.reduce((sum, e) => sum + e.residualEnergy, 0);
  const kept = energy.reduce((sum, e) => sum + e.captured * e.residualEnergy, 0);
  return {
    min: Math.min(...energy.map((e) => e.captured)),
    mean: energy.reduce((sum, e) => sum + e.captured, 0) / energy.length,
    overall: total > 0 ? kept / total : 1,
  };
}
