/** One generated token as drawn: its text and the loops it would run. */
export interface DepthCell {
  readonly text: string;
  readonly depth: number;
}

const PAD = 4;
const LINE = 22;

/**
 * Draws the tokens left to right, wrapping, each on a box whose shade is its exit depth
 * (light = left after the first loop, dark = ran every loop), with a legend. Marks the canvas
 * `data-drawn` and records the depths in `data-depths` (what tests read).
 */
export function drawDepthHeatmap(canvas: HTMLCanvasElement, cells: readonly DepthCell[], loops: number): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser gives no 2D canvas context');
  ctx.font = '14px monospace';
  const layout = wrap(ctx, cells, canvas.width);
  canvas.height = (layout.lines + 1) * LINE + 2 * PAD + LINE;
  ctx.font = '14px monospace';
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  for (const [i, cell] of cells.entries()) {
    const box = layout.boxes[i]!;
    ctx.fillStyle = shade(cell.depth, loops);
    ctx.fillRect(box.x, box.y, box.w, LINE - 2);
    ctx.fillStyle = cell.depth / loops > 0.6 ? '#fff' : '#000';
    ctx.fillText(visible(cell.text), box.x + 2, box.y + 15);
  }
  drawLegend(ctx, loops, canvas.height - LINE - PAD);
  canvas.dataset.drawn = 'true';
  canvas.dataset.depths = cells.map((c) => c.depth).join(',');
  canvas.dataset.loops = String(loops);
}

function wrap(
  ctx: CanvasRenderingContext2D,
  cells: readonly DepthCell[],
  width: number,
): { boxes: { x: number; y: number; w: number }[]; lines: number } {
  const boxes: { x: number; y: number; w: number }[] = [];
  let x = PAD;
  let line = 0;
  for (const cell of cells) {
    const w = Math.ceil(ctx.measureText(visible(cell.text)).width) + 4;
    if (x + w > width - PAD && x > PAD) {
      x = PAD;
      line++;
    }
    boxes.push({ x, y: PAD + line * LINE, w });
    x += w + 1;
  }
  return { boxes, lines: line + 1 };
}

function drawLegend(ctx: CanvasRenderingContext2D, loops: number, y: number): void {
  ctx.fillStyle = '#000';
  ctx.fillText('exit depth:', PAD, y + 15);
  for (let d = 1; d <= loops; d++) {
    const x = PAD + 100 + (d - 1) * 40;
    ctx.fillStyle = shade(d, loops);
    ctx.fillRect(x, y, 36, LINE - 2);
    ctx.fillStyle = d / loops > 0.6 ? '#fff' : '#000';
    ctx.fillText(String(d), x + 12, y + 15);
  }
}

/** Light yellow (depth 1) to dark blue (every loop). */
function shade(depth: number, loops: number): string {
  const f = loops <= 1 ? 1 : (depth - 1) / (loops - 1);
  const mix = (a: number, b: number) => Math.round(a + (b - a) * f);
  return `rgb(${mix(255, 20)}, ${mix(236, 40)}, ${mix(160, 140)})`;
}

function visible(text: string): string {
  return text.replace(/\n/g, '↵').replace(/ /g, '·') || '∅';
}
