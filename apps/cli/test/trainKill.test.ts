import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cli, recur, shared } from './support/recur.js';

const preload = fileURLToPath(new URL('./support/pauseCheckpointSave.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'recur-train-kill-'));
const data = join(dir, 'data.txt');
writeFileSync(data, readFileSync(`${shared}corpora/tinystories_val/tinystories_val.txt`, 'utf8').slice(0, 60_000));
const args = [
  '--model',
  `${shared}models/stories260K/hf`,
  '--data',
  data,
  '--batch',
  '2',
  '--seq',
  '32',
  '--val-fraction',
  '0.05',
  '--eval-every',
  '0',
  '--eval-windows',
  '2',
  '--steps',
  '4',
  '--save-every',
  '1',
  '--json',
];
const losses = (run: string) =>
  readFileSync(join(run, 'train.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { kind: string; step: number; loss: number })
    .filter((r) => r.kind === 'step');

/** Starts `recur train`, waits until it is inside the save of checkpoint 2, and kills it with SIGKILL. */
function trainKilledMidSave(out: string): Promise<NodeJS.Signals | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', preload, cli, 'train', ...args, '--out', out], {
      env: { ...process.env, RECUR_TEST_PAUSE_SAVE: 'step-000000002' },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('PAUSED-IN-SAVE')) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) =>
      signal ? resolve(signal) : reject(new Error(`train exited ${code} before its save was interrupted: ${stderr}`)),
    );
  });
}

describe('recur train killed with SIGKILL in the middle of a checkpoint save', () => {
  it('--resume skips the half-written save, resumes from the last whole checkpoint and finishes the run exactly', async () => {
    const out = join(dir, 'killed');
    expect(await trainKilledMidSave(out)).toBe('SIGKILL');
    const left = readdirSync(join(out, 'checkpoints'));
    expect(left.filter((name) => name.startsWith('step-'))).toEqual(['step-000000001']);
    expect(left.some((name) => name.startsWith('.tmp-step-000000002'))).toBe(true); // the save really was cut short
    expect(existsSync(join(out, 'model'))).toBe(false);

    const resumed = await recur('train', ...args, '--out', out, '--resume');
    expect(resumed.code).toBe(0);
    expect((JSON.parse(resumed.stdout) as { steps: number; resumedFrom: number }).resumedFrom).toBe(1);
    expect(readdirSync(join(out, 'checkpoints')).filter((name) => name.startsWith('.tmp-'))).toEqual([]);
    expect(existsSync(join(out, 'model', 'model.safetensors'))).toBe(true);

    const straight = join(dir, 'straight');
    expect((await recur('train', ...args, '--out', straight)).code).toBe(0);
    expect(losses(out)).toEqual(losses(straight).map((r) => expect.objectContaining({ step: r.step, loss: r.loss })));
  });
});
