import { disposeModel, generate, type LoadedModel } from '@recur/engine';
import { tf, type BackendName } from '@recur/tensor';
import { DEFAULT_DIAGNOSE_TEXT, diagnoseText } from './analysis/diagnoseText.js';
import { probeLoops } from './analysis/loopProbe.js';
import { measureThroughput } from './analysis/throughput.js';
import { tokenDepths } from './analysis/tokenDepths.js';
import { startBackend, type ActiveBackend } from './backend.js';
import { convertInWorker } from './convert/convertInWorker.js';
import { openModel } from './load/openModel.js';
import { filesFromDrop, filesFromList, filesFromUrl, type ModelFiles } from './load/sources.js';
import { drawEntropyChart, drawThroughputChart } from './ui/charts.js';
import { drawDiagnoseChart, renderDiagnoseTable } from './ui/diagnoseChart.js';
import { action, byId, setProgress, showMessage } from './ui/dom.js';
import { drawDepthHeatmap } from './ui/heatmap.js';
import { convertOptions, fillConvertChoices, numberField } from './ui/options.js';
import { renderSizes } from './ui/sizes.js';

/** What the page holds: the backend, the model as opened, and its converted form if any. */
interface PageState {
  backend?: ActiveBackend;
  source?: LoadedModel;
  converted?: LoadedModel;
}
const state: PageState = {};
const current = (): LoadedModel | undefined => state.converted ?? state.source;

/** Where the tfjs wasm binaries are served (this origin). */
const wasmPaths = (): string => new URL('wasm/', document.baseURI).href;

function settle(): void {
  const ready = state.backend !== undefined;
  byId('url-load', HTMLButtonElement).disabled = !ready;
  byId('convert-button', HTMLButtonElement).disabled = !state.source;
  byId('generate-button', HTMLButtonElement).disabled = !current();
  byId('bench-button', HTMLButtonElement).disabled = !current();
  byId('diagnose-button', HTMLButtonElement).disabled = !current();
}

async function start(): Promise<void> {
  fillConvertChoices();
  byId('diagnose-text', HTMLTextAreaElement).value = DEFAULT_DIAGNOSE_TEXT;
  const params = new URLSearchParams(location.search);
  const prefer: BackendName = params.get('backend') === 'wasm' ? 'wasm' : 'webgpu';
  await action(
    'start',
    async () => {
      state.backend = await startBackend(prefer, wasmPaths());
      byId('backend', HTMLElement).textContent = state.backend.name;
      byId('backend-note', HTMLSpanElement).textContent = state.backend.fallbackReason
        ? `(fallback: ${state.backend.fallbackReason})`
        : state.backend.adapter
          ? `(${state.backend.adapter})`
          : '';
      document.body.dataset.backend = state.backend.name;
    },
    settle,
  );
  wireEvents();
  const model = params.get('model');
  if (model && state.backend)
    await loadFrom(() => filesFromUrl(model, (f) => setProgress(byId('load-progress', HTMLProgressElement), f)));
}

function wireEvents(): void {
  const files = (input: HTMLInputElement) => () =>
    void loadFrom(async () => filesFromList(Array.from(input.files ?? [])));
  byId('file-input', HTMLInputElement).addEventListener('change', files(byId('file-input', HTMLInputElement)));
  byId('folder-input', HTMLInputElement).addEventListener('change', files(byId('folder-input', HTMLInputElement)));
  const zone = byId('drop-zone', HTMLDivElement);
  zone.addEventListener('dragover', (e) => e.preventDefault());
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    if (e.dataTransfer) void loadFrom(() => filesFromDrop(e.dataTransfer!));
  });
  byId('url-form', HTMLFormElement).addEventListener('submit', (e) => {
    e.preventDefault();
    const url = byId('url-input', HTMLInputElement).value.trim();
    void loadFrom(() => filesFromUrl(url, (f) => setProgress(byId('load-progress', HTMLProgressElement), f)));
  });
  const onSubmit = (form: string, name: string, job: () => Promise<void>): void =>
    byId(form, HTMLFormElement).addEventListener('submit', (e) => {
      e.preventDefault();
      void action(name, job, settle);
    });
  onSubmit('convert-form', 'convert', convert);
  onSubmit('generate-form', 'generate', run);
  onSubmit('bench-form', 'bench', bench);
  onSubmit('diagnose-form', 'diagnose', diagnose);
}

/** Replaces the page's model with the one in these files; on failure the previous model stays. */
async function loadFrom(files: () => Promise<ModelFiles>): Promise<void> {
  await action(
    'load',
    async () => {
      const backend = state.backend;
      if (!backend) throw new Error('no backend is running');
      const bar = byId('load-progress', HTMLProgressElement);
      setProgress(bar, 0);
      try {
        const model = await openModel(await files(), backend, (f) => setProgress(bar, f));
        dropModels();
        state.source = model;
        describeModel(model);
      } finally {
        setProgress(bar, undefined);
      }
    },
    settle,
  );
}

function dropModels(): void {
  if (state.converted) disposeModel(state.converted);
  if (state.source) disposeModel(state.source);
  state.converted = undefined;
  state.source = undefined;
  byId('sizes', HTMLTableElement).replaceChildren();
}

function describeModel(model: LoadedModel): void {
  const c = model.config;
  const info = byId('model-info', HTMLDivElement);
  info.textContent =
    `${model.source.path} (${model.source.format}): ${c.numLayers} layers, d=${c.hiddenSize}, ${c.numHeads} heads / ${c.numKvHeads} KV heads, vocab ${c.vocabSize}` +
    (model.recur
      ? `, recursive: ${model.recur.strategy} × ${model.recur.loops} loops, ${model.recur.loraKind ?? 'depthwise'} LoRA`
      : '') +
    (model.masa ? `, MASA: ${model.masa.section.atoms} atoms per shared projection` : '');
  info.dataset.loaded = 'true';
  renderSizes(byId('sizes', HTMLTableElement), [
    { label: 'opened model', parameters: model.decoder.parameterCount + (model.lora?.parameterCount ?? 0) },
  ]);
}

async function convert(): Promise<void> {
  const source = state.source;
  if (!source) throw new Error('open a model first');
  const bar = byId('convert-progress', HTMLProgressElement);
  setProgress(bar, 0);
  try {
    bar.dataset.updates = '0';
    const options = convertOptions((done, total) => {
      setProgress(bar, done / total);
      bar.dataset.updates = String(Number(bar.dataset.updates) + 1);
    });
    const converted = await convertInWorker(source, options, wasmPaths());
    if (state.converted) disposeModel(state.converted);
    state.converted = converted;
    renderSizes(byId('sizes', HTMLTableElement), [
      { label: 'source', parameters: converted.parameters.source },
      { label: 'shared block', parameters: converted.parameters.shared },
      { label: 'depth-wise LoRA', parameters: converted.parameters.lora },
      { label: 'recursive total', parameters: converted.parameters.shared + converted.parameters.lora },
    ]);
    byId('model-info', HTMLDivElement).dataset.converted = `${options.strategy}×${options.loops}`;
  } finally {
    setProgress(bar, undefined);
  }
}

async function run(): Promise<void> {
  const model = current();
  if (!model) throw new Error('open a model first');
  const output = byId('output', HTMLPreElement);
  output.textContent = '';
  output.dataset.ids = '';
  const result = await generate(model, {
    prompt: byId('prompt', HTMLInputElement).value,
    maxNewTokens: numberField('max-tokens', 1, 4096),
    temperature: numberField('temperature', 0, 2), // generate() refuses above 2 (the server's range)
    stopAtEos: byId('stop-eos', HTMLInputElement).checked,
    onText: (delta) => output.append(delta),
  });
  output.dataset.ids = [...result.promptIds, ...result.ids].join(',');
  const perToken = result.ids.length > 0 ? result.timings.decodeMs / result.ids.length : 0;
  byId('generate-stats', HTMLParagraphElement).textContent =
    `${result.ids.length} tokens · prefill ${result.timings.prefillMs.toFixed(0)} ms · decode ${perToken.toFixed(1)} ms/token on ${state.backend?.name}` +
    (result.depths
      ? ` · routed by its ${model.recur?.router?.kind}-choice router, mean depth ${(result.depths.reduce((a, b) => a + b, 0) / Math.max(1, result.depths.length)).toFixed(2)}`
      : '');
  await analyse(model, [...result.promptIds, ...result.ids], result.promptIds.length, result.depths);
}

/**
 * Depth heatmap and attention entropy of the generated text (one full-depth forward). A router model
 * (generate ran its router) shows the depths its router gave; others the max-probability exit depths.
 */
async function analyse(
  model: LoadedModel,
  ids: number[],
  promptLength: number,
  routed: readonly number[] | undefined,
): Promise<void> {
  const probe = await probeLoops(model, ids);
  const depths = tokenDepths(probe, numberField('exit-threshold', 0, 1));
  // Row t's readout chose token t+1: colour each generated token by the depth of the row that produced it.
  const depthOf = (i: number): number => routed?.[i] ?? depths[promptLength - 1 + i] ?? probe.readouts.length;
  const cells = ids.slice(promptLength).map((id, i) => ({ text: model.tokenizer.decode([id]), depth: depthOf(i) }));
  drawDepthHeatmap(byId('heatmap', HTMLCanvasElement), cells, probe.readouts.length);
  drawEntropyChart(byId('entropy', HTMLCanvasElement), probe.entropies);
}

async function bench(): Promise<void> {
  const model = current();
  if (!model) throw new Error('open a model first');
  const result = await measureThroughput(model, numberField('bench-batch', 1, 64), numberField('bench-steps', 1, 256));
  drawThroughputChart(byId('throughput-chart', HTMLCanvasElement), result);
  byId('throughput-note', HTMLParagraphElement).textContent =
    `${result.sequences} sequences × ${result.steps} greedy steps on ${state.backend?.name}; batched = one forward per step with every row through each layer call (each row attends over its own cache; all rows at full depth). Same tokens both ways: ${result.sameTokens ? 'yes' : 'no'}.`;
}

/** Per-layer diagnostics of the current model on the pasted text (the engine's diagnoseModel). */
async function diagnose(): Promise<void> {
  const model = current();
  if (!model) throw new Error('open a model first');
  const result = await diagnoseText(model, byId('diagnose-text', HTMLTextAreaElement).value, {
    window: numberField('diagnose-window', 2, model.config.maxPositionEmbeddings),
    maxWindows: numberField('diagnose-windows', 1, 64),
    target: byId('diagnose-target', HTMLTextAreaElement).value,
  });
  drawDiagnoseChart(byId('diagnose-chart', HTMLCanvasElement), result);
  renderDiagnoseTable(byId('diagnose-table', HTMLTableElement), result);
  byId('diagnose-note', HTMLParagraphElement).textContent =
    `${result.source.windows} window${result.source.windows === 1 ? '' : 's'}, ${result.source.tokens} tokens, loss ${result.source.loss.toFixed(3)}; inflection layers: ${result.inflectionLayers.join(', ') || 'none'} (${result.rule}).`;
}

window.addEventListener('error', (e) => showMessage(e.message));
window.addEventListener('unhandledrejection', (e) =>
  showMessage(e.reason instanceof Error ? e.reason.message : String(e.reason)),
);
// For tests and the console: the page's tfjs and state.
(window as Window & { recur?: unknown }).recur = { tf, state };
void start();
