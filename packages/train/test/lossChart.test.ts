import { describe, expect, it } from 'vitest';
import { lineChartSvg } from '../src/index.js';

describe('lineChartSvg', () => {
  it('draws one polyline per series inside the plot, with a legend and escaped text', () => {
    const svg = lineChartSvg(
      [
        {
          name: 'train <loss>',
          points: [
            [0, 4],
            [10, 2],
            [20, 1.5],
          ],
        },
        {
          name: 'validation',
          points: [
            [10, 2.5],
            [20, NaN],
            [30, 1.8],
          ],
        },
      ],
      { title: 'a & b', width: 400, height: 200 },
    );
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('train &lt;loss&gt;');
    expect(svg).toContain('a &amp; b');
    const coords = [...svg.matchAll(/points="([^"]*)"/g)].flatMap((m) =>
      m[1]!.split(' ').map((p) => p.split(',').map(Number)),
    );
    expect(coords).toHaveLength(5); // the NaN point is skipped
    for (const [x, y] of coords) {
      expect(x).toBeGreaterThanOrEqual(56);
      expect(x).toBeLessThanOrEqual(400 - 16);
      expect(y).toBeGreaterThanOrEqual(32);
      expect(y).toBeLessThanOrEqual(200 - 40);
    }
  });

  it('survives an empty or flat series', () => {
    expect(lineChartSvg([{ name: 'x', points: [] }], { title: 't' })).toContain('</svg>');
    expect(
      lineChartSvg(
        [
          {
            name: 'x',
            points: [
              [0, 1],
              [1, 1],
            ],
          },
        ],
        { title: 't' },
      ),
    ).not.toContain('NaN');
  });
});
