/** One line of a chart: (step, value) points in step order. */
export interface ChartSeries {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface ChartOptions {
  readonly title: string;
  readonly width?: number;
  readonly height?: number;
  readonly xLabel?: string;
  readonly yLabel?: string;
}

const palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd'];
const margin = { left: 56, right: 16, top: 32, bottom: 40 };

/**
 * A self-contained SVG line chart (no script, no external fonts) for loss curves: each series is a
 * polyline over shared axes with 5 ticks per axis and a legend. Non-finite values are skipped.
 */
export function lineChartSvg(series: readonly ChartSeries[], options: ChartOptions): string {
  const width = options.width ?? 640;
  const height = options.height ?? 360;
  const points = series.flatMap((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  const [x0, x1] = extent(points.map(([x]) => x));
  const [y0, y1] = extent(points.map(([, y]) => y));
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const sx = (x: number) => margin.left + ((x - x0) / (x1 - x0 || 1)) * plotW;
  const sy = (y: number) => margin.top + plotH - ((y - y0) / (y1 - y0 || 1)) * plotH;
  const lines = series.map((s, i) => {
    const path = s.points
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
      .map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
      .join(' ');
    return `<polyline fill="none" stroke="${palette[i % palette.length]}" stroke-width="1.5" points="${path}"/>`;
  });
  const legend = series.map((s, i) => {
    const y = margin.top + 14 + i * 16;
    return `<rect x="${width - margin.right - 150}" y="${y - 9}" width="10" height="10" fill="${palette[i % palette.length]}"/><text x="${width - margin.right - 135}" y="${y}">${escapeXml(s.name)}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="13">${escapeXml(options.title)}</text>`,
    ...axisTicks(x0, x1).map(
      (v) =>
        `<line x1="${sx(v)}" x2="${sx(v)}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#eee"/><text x="${sx(v)}" y="${height - margin.bottom + 14}" text-anchor="middle">${formatTick(v)}</text>`,
    ),
    ...axisTicks(y0, y1).map(
      (v) =>
        `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${sy(v)}" y2="${sy(v)}" stroke="#eee"/><text x="${margin.left - 6}" y="${sy(v) + 4}" text-anchor="end">${formatTick(v)}</text>`,
    ),
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`,
    `<text x="${margin.left + plotW / 2}" y="${height - 6}" text-anchor="middle">${escapeXml(options.xLabel ?? 'step')}</text>`,
    `<text transform="translate(14 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel ?? 'loss')}</text>`,
    ...lines,
    ...legend,
    '</svg>',
    '',
  ].join('\n');
}

function extent(values: readonly number[]): [number, number] {
  if (values.length === 0) return [0, 1];
  return values.reduce<[number, number]>(([lo, hi], v) => [Math.min(lo, v), Math.max(hi, v)], [Infinity, -Infinity]);
}

function axisTicks(lo: number, hi: number): number[] {
  return Array.from({ length: 5 }, (_, i) => lo + ((hi - lo) * i) / 4);
}

function formatTick(v: number): string {
  return Math.abs(v) >= 1000 ? v.toFixed(0) : Number(v.toPrecision(3)).toString();
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}
