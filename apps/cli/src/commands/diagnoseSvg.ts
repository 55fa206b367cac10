import type { DiagnoseResult, StepDiagnostics } from '@recur/engine';

interface Panel {
  readonly title: string;
  readonly value: (s: StepDiagnostics) => number | undefined;
}

const panels: readonly Panel[] = [
  { title: 'attention entropy (nats)', value: (s) => s.attentionEntropy },
  { title: 'activation gradient norm ‖∂L/∂h‖', value: (s) => s.activationGradNorm },
  { title: 'parameter gradient norm ‖∂L/∂θ‖', value: (s) => s.paramGradNorm },
  { title: 'ΔCKA (shared PCA basis)', value: (s) => s.deltaCka },
];
const width = 640;
const panelHeight = 170;
const margin = { left: 64, right: 16, top: 28, bottom: 26 };

/**
 * A small self-contained SVG: one panel per metric against the executed step (= layer in a plain
 * model), inflection steps marked by red bands and dots, the rule as the caption. Panels whose metric
 * is absent (ΔCKA without --target-data) are left out.
 */
export function diagnoseSvg(result: DiagnoseResult): string {
  const shown = panels.filter((p) => result.steps.every((s) => p.value(s) !== undefined));
  const height = shown.length * panelHeight + 40;
  const body = shown.map((p, i) => panelSvg(p, result, i * panelHeight));
  const caption = `<text x="8" y="${height - 14}" font-size="10" fill="#444">${escapeXml(result.rule)}</text>`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    ...body,
    caption,
    '</svg>',
    '',
  ].join('\n');
}

function panelSvg(panel: Panel, result: DiagnoseResult, top: number): string {
  const values = result.steps.map((s) => panel.value(s) as number);
  const lo = Math.min(0, ...values);
  const hi = Math.max(...values);
  const plotW = width - margin.left - margin.right;
  const plotH = panelHeight - margin.top - margin.bottom;
  const n = Math.max(1, values.length - 1);
  const sx = (i: number) => margin.left + (i / n) * plotW;
  const sy = (v: number) => top + margin.top + plotH - ((v - lo) / (hi - lo || 1)) * plotH;
  const bands = result.inflectionSteps.map(
    (i) =>
      `<rect x="${(sx(i) - 6).toFixed(1)}" y="${top + margin.top}" width="12" height="${plotH}" fill="#d62728" opacity="0.15"/>`,
  );
  const line = values.map((v, i) => `${sx(i).toFixed(1)},${sy(v).toFixed(1)}`).join(' ');
  const dots = values.map((v, i) => {
    const flagged = result.inflectionSteps.includes(i);
    return `<circle cx="${sx(i).toFixed(1)}" cy="${sy(v).toFixed(1)}" r="${flagged ? 4 : 2.5}" fill="${flagged ? '#d62728' : '#1f77b4'}"/>`;
  });
  const ticks = result.steps.map(
    (s, i) =>
      `<text x="${sx(i).toFixed(1)}" y="${top + panelHeight - 10}" font-size="9" text-anchor="middle">${result.recursive ? `${s.layer}.${s.loop}` : s.layer}</text>`,
  );
  const axis = `<line x1="${margin.left}" y1="${sy(lo).toFixed(1)}" x2="${width - margin.right}" y2="${sy(lo).toFixed(1)}" stroke="#999"/>`;
  const labels = [hi, lo].map(
    (v) =>
      `<text x="${margin.left - 4}" y="${(sy(v) + 3).toFixed(1)}" font-size="9" text-anchor="end">${formatValue(v)}</text>`,
  );
  const title = `<text x="${margin.left}" y="${top + 18}" font-size="12">${escapeXml(panel.title)}${result.recursive ? ' — by step (layer.loop)' : ' — by layer'}</text>`;
  return [
    title,
    ...bands,
    axis,
    ...labels,
    `<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="${line}"/>`,
    ...dots,
    ...ticks,
  ].join('\n');
}

function formatValue(v: number): string {
  return Math.abs(v) >= 1e-3 || v === 0 ? v.toPrecision(3) : v.toExponential(2);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
