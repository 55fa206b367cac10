import type { StepEntropy } from '@recur/graph';
import type { ThroughputResult } from '../analysis/throughput.js';

const LOOP_COLOURS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7'];

/** Bars of mean attention entropy per executed layer step, coloured by loop, with the per-loop mean. */
export function drawEntropyChart(canvas: HTMLCanvasElement, steps: readonly StepEntropy[]): void {
  const ctx = context(canvas);
  const top = Math.max(1e-6, ...steps.map((s) => s.entropy));
  const base = canvas.height - 40;
  const width = Math.max(4, Math.min(60, (canvas.width - 80) / Math.max(1, steps.length) - 4));
  for (const [i, s] of steps.entries()) {
    const h = (s.entropy / top) * (base - 20);
    const x = 60 + i * (width + 4);
    ctx.fillStyle = LOOP_COLOURS[s.loop % LOOP_COLOURS.length]!;
    ctx.fillRect(x, base - h, width, h);
    ctx.fillStyle = '#000';
    ctx.fillText(`L${s.layer}`, x, base + 14);
  }
  ctx.fillText(`${top.toFixed(2)} nats`, 2, 24);
  ctx.fillText('0', 40, base);
  const means = loopMeans(steps);
  ctx.fillText(means.map((m, loop) => `loop ${loop + 1}: ${m.toFixed(3)}`).join('   '), 60, base + 32);
  canvas.dataset.drawn = 'true';
  canvas.dataset.loopMeans = means.map((m) => m.toFixed(4)).join(',');
}

/** Mean entropy of each loop's steps. */
export function loopMeans(steps: readonly StepEntropy[]): number[] {
  const sums: number[] = [];
  const counts: number[] = [];
  for (const s of steps) {
    sums[s.loop] = (sums[s.loop] ?? 0) + s.entropy;
    counts[s.loop] = (counts[s.loop] ?? 0) + 1;
  }
  return sums.map((sum, loop) => sum / (counts[loop] ?? 1));
}

/** Two bars: tokens/s one at a time vs batched. */
export function drawThroughputChart(canvas: HTMLCanvasElement, result: ThroughputResult): void {
  const ctx = context(canvas);
  const bars = [
    { label: 'one at a time', value: result.oneAtATime },
    { label: `batched ×${result.sequences}`, value: result.batched },
  ];
  const top = Math.max(...bars.map((b) => b.value), 1e-9);
  for (const [i, bar] of bars.entries()) {
    const y = 20 + i * 60;
    const w = (bar.value / top) * (canvas.width - 260);
    ctx.fillStyle = LOOP_COLOURS[i]!;
    ctx.fillRect(130, y, w, 36);
    ctx.fillStyle = '#000';
    ctx.fillText(bar.label, 4, y + 22);
    ctx.fillText(`${bar.value.toFixed(1)} tok/s`, 136 + w, y + 22);
  }
  canvas.dataset.drawn = 'true';
}

function context(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser gives no 2D canvas context');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = '12px sans-serif';
  return ctx;
}
