import type { DiagnoseResult, LayerDiagnostics } from '@recur/engine';

/** One panel per metric; ΔCKA only when a target text was given. */
const METRICS: readonly { readonly label: string; readonly pick: (l: LayerDiagnostics) => number | undefined }[] = [
  { label: 'attention entropy (nats)', pick: (l) => l.attentionEntropy },
  { label: '‖∂L/∂h‖', pick: (l) => l.activationGradNorm },
  { label: '‖∂L/∂θ‖', pick: (l) => l.paramGradNorm },
  { label: 'ΔCKA to target', pick: (l) => l.deltaCka },
];
const BAR = '#4e79a7';
const INFLECTION = '#e15759';

/**
 * Per-layer bars of each diagnostic (one panel per metric, stored layers left to right), inflection
 * layers in red; a recursive model's layer value is the mean over its loops (as `recur diagnose` prints).
 */
export function drawDiagnoseChart(canvas: HTMLCanvasElement, result: DiagnoseResult): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser gives no 2D canvas context');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = '12px sans-serif';
  const metrics = METRICS.filter((m) => result.layers.some((l) => m.pick(l) !== undefined));
  const panelWidth = canvas.width / metrics.length;
  const base = canvas.height - 24;
  const flagged = new Set(result.inflectionLayers);
  for (const [p, metric] of metrics.entries()) {
    const values = result.layers.map((l) => metric.pick(l) ?? 0);
    const top = Math.max(1e-9, ...values);
    const left = p * panelWidth + 8;
    const width = Math.max(3, (panelWidth - 24) / values.length - 3);
    ctx.fillStyle = '#000';
    ctx.fillText(`${metric.label} (max ${top.toPrecision(3)})`, left, 14);
    for (const [i, value] of values.entries()) {
      const h = (value / top) * (base - 30);
      const x = left + i * (width + 3);
      const layer = result.layers[i]!.layer;
      ctx.fillStyle = flagged.has(layer) ? INFLECTION : BAR;
      ctx.fillRect(x, base - h, width, h);
      ctx.fillStyle = '#000';
      ctx.fillText(String(layer), x, base + 14);
    }
  }
  canvas.dataset.drawn = 'true';
  canvas.dataset.layers = String(result.layers.length);
  canvas.dataset.inflectionLayers = result.inflectionLayers.join(',');
}

/** One table row per stored layer: the numbers behind the bars (★ marks an inflection layer). */
export function renderDiagnoseTable(table: HTMLTableElement, result: DiagnoseResult): void {
  const header = ['layer', 'steps', ...METRICS.map((m) => m.label)];
  const head = table.createTHead();
  head.replaceChildren(row('th', header));
  const body = table.tBodies[0] ?? table.createTBody();
  const flagged = new Set(result.inflectionLayers);
  body.replaceChildren(
    ...result.layers.map((l) => {
      const tr = row('td', [
        `${l.layer}${flagged.has(l.layer) ? ' ★' : ''}`,
        l.steps.join(' '),
        ...METRICS.map((m) => m.pick(l)?.toFixed(4) ?? '–'),
      ]);
      tr.dataset.layer = String(l.layer);
      if (flagged.has(l.layer)) tr.dataset.inflection = 'true';
      return tr;
    }),
  );
}

function row(cell: 'td' | 'th', texts: readonly string[]): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.replaceChildren(
    ...texts.map((t) => {
      const el = document.createElement(cell);
      el.textContent = t;
      return el;
    }),
  );
  return tr;
}
