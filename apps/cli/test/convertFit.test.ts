import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOneLineFailure, recur, shared } from './support/recur.js';

const hf = `${shared}models/stories260K/hf`;

interface Summary {
  depthFit: string;
  blockSize: number;
  sourceLayers: number[];
  warning: string | null;
  lora: {
    energy: { name: string; sourceLayer: number; rank: number; captured: number; residualEnergy: number }[];
    captured: { min: number; mean: number; overall: number } | null;
  };
}

describe('recur convert --depth-fit and the SVD energy report', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-fit-'));
  const mc2 = [
    '--loops',
    '2',
    '--strategy',
    'middle-cycle',
    '--init',
    'average',
    '--lora-rank-attn',
    '4',
    '--lora-rank-mlp',
    '4',
  ];
  const convert = async (name: string, ...args: string[]): Promise<Summary> => {
    const run = await recur('convert', hf, '--out', join(dir, name), ...args, '--json');
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout) as Summary;
  };

  it('floor is the default (K = ⌊3/2⌋ = 1, layers [0, 1, 3, 4], as the public MoR code); round keeps the old [0, 1, 2, 2, 3, 4]', async () => {
    const floor = await convert('floor', ...mc2);
    expect(floor).toMatchObject({ depthFit: 'floor', blockSize: 1, sourceLayers: [0, 1, 3, 4] });
    expect(floor.warning).toMatch(/K = floor\(3 \/ 2\) = 1/);
    const round = await convert('round', ...mc2, '--depth-fit', 'round');
    expect(round).toMatchObject({ depthFit: 'round', blockSize: 2, sourceLayers: [0, 1, 2, 2, 3, 4] });
    const exact = await convert(
      'exact',
      '--loops',
      '3',
      '--strategy',
      'middle-cycle',
      '--lora-rank-attn',
      '0',
      '--lora-rank-mlp',
      '0',
    );
    expect(exact).toMatchObject({ blockSize: 1, sourceLayers: [0, 1, 2, 3, 4], warning: null });
  });

  it("reports each truncation's captured energy (Σ_{i≤r} s² / Σ s²), 1 at full rank", async () => {
    const summary = await convert('energy', ...mc2);
    // 2 shared steps × 7 modules, each named by its adapter
    expect(summary.lora.energy).toHaveLength(14);
    expect(summary.lora.energy[0]).toMatchObject({
      name: 'model.layers.1.self_attn.q_proj.loop0',
      sourceLayer: 1,
      rank: 4,
    });
    for (const e of summary.lora.energy) {
      expect(e.captured).toBeGreaterThan(0);
      expect(e.captured).toBeLessThanOrEqual(1);
    }
    const { min, mean, overall } = summary.lora.captured!;
    expect(min).toBe(Math.min(...summary.lora.energy.map((e) => e.captured)));
    expect(mean).toBeGreaterThanOrEqual(min);
    // Average init: both loops lose ±(W₁ − W₃)/2, so every residual has energy and the two loops' match
    for (const e of summary.lora.energy) expect(e.residualEnergy).toBeGreaterThan(0);
    const [loop0, loop1] = [0, 7].map((i) => summary.lora.energy[i]!.residualEnergy);
    expect(loop0! / loop1!).toBeCloseTo(1, 5);
    const weighted = summary.lora.energy.reduce((n, e) => n + e.captured * e.residualEnergy, 0);
    const total = summary.lora.energy.reduce((n, e) => n + e.residualEnergy, 0);
    expect(overall).toBeCloseTo(weighted / total, 12);
    // Lower init: loop 0 is source layer 1 itself (nothing to restore), loop 1 carries W₃ − W₁ whole
    const lower = await convert('lower', ...mc2.slice(0, 4), '--init', 'lower', ...mc2.slice(6));
    for (const e of lower.lora.energy)
      if (e.name.endsWith('loop0')) expect(e.residualEnergy).toBe(0);
      else
        expect(e.residualEnergy / summary.lora.energy.find((a) => a.name === e.name)!.residualEnergy).toBeCloseTo(4, 4);
    const full = await convert('full', ...mc2.slice(0, 6), '--lora-rank-attn', 'full', '--lora-rank-mlp', 'full');
    for (const e of full.lora.energy) expect(e.captured).toBeCloseTo(1, 6);
    const none = await convert('none', ...mc2.slice(0, 6), '--lora-rank-attn', '0', '--lora-rank-mlp', '0');
    expect(none.lora).toEqual({ energy: [], captured: null });
  });

  it('prints the source layers and the energy summary; refuses an unknown rule in one line; --help names the flag', async () => {
    const run = await recur('convert', hf, '--out', join(dir, 'text'), ...mc2);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/source layers run \(depth fit floor\): \[0, 1, 3, 4\]/);
    expect(run.stdout).toMatch(
      /SVD LoRA keeps \d+\.\d\d% \(min\) \/ \d+\.\d\d% \(mean\) of each residual's energy over 14 truncations, \d+\.\d\d% of all residual energy/,
    );
    expectOneLineFailure(
      await recur('convert', hf, '--out', join(dir, 'bad'), '--depth-fit', 'ceil'),
      /--depth-fit must be one of floor, round, got "ceil"/,
    );
    expect((await recur('convert', '--help')).stdout).toMatch(/--depth-fit <rule>/);
  });
});
