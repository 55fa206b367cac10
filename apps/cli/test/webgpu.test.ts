import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expectOneLineFailure, recur, recurWithEnv, shared } from './support/recur.js';
import { runWebGpuSuite, webGpuEnv, webGpuUnavailable } from './support/webgpu.js';

// Issue 20 §3: --backend webgpu in Node (Dawn, the optional npm package webgpu) for generate, eval and bench;
// serve refuses it. Here the adapter is SwiftShader (software, ≈1 GFLOP/s): short runs only.
const stories = `${shared}models/stories260K/`;
const gguf = `${stories}stories260K.gguf`;
const hf = `${stories}hf`;
const data = `${shared}corpora/tinystories_val/tinystories_val.txt`;
const greedy = JSON.parse(readFileSync(`${stories}reference/greedy_bos_200.json`, 'utf8')) as { ids: number[] };
const unavailable = await webGpuUnavailable();
const webgpu = (...args: string[]) => recurWithEnv(webGpuEnv(), ...args, '--backend', 'webgpu');

interface Located {
  path: string;
  backend: string;
  adapter?: string;
}

describe('recur --backend webgpu: refusals', () => {
  it('serve refuses webgpu in one line, with the reason', async () => {
    expectOneLineFailure(
      await recur('serve', '--model', gguf, '--port', '0', '--backend', 'webgpu'),
      /serving engine runs only on the fused wasm kernels/,
    );
  });

  it.runIf(process.platform === 'linux')(
    'a Vulkan driver manifest that does not exist fails in one line naming VK_ICD_FILENAMES',
    async () => {
      const run = await recurWithEnv(
        { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json' },
        'generate',
        '--model',
        gguf,
        '--max-new-tokens',
        '2',
        '--backend',
        'webgpu',
      );
      expectOneLineFailure(run, /VK_ICD_FILENAMES .*\/nonexistent\/icd\.json.*vk_swiftshader_icd\.json/);
    },
  );
});

describe.runIf(runWebGpuSuite(unavailable, 'recur --backend webgpu'))('recur --backend webgpu on Dawn', () => {
  it('generate: the golden greedy prefix on the tfjs path, --json naming the backend and adapter', async () => {
    const run = await webgpu('generate', '--model', gguf, '--max-new-tokens', '12', '--temperature', '0', '--json');
    expect(run.stderr).toBe('');
    const out = JSON.parse(run.stdout) as Located & { promptIds: number[]; ids: number[] };
    expect([out.path, out.backend]).toEqual(['tfjs', 'webgpu']);
    expect(out.adapter).toMatch(/\S/);
    expect([...out.promptIds, ...out.ids]).toEqual(greedy.ids.slice(0, 13));
  }, 300_000);

  it('eval: the same mean NLL as the tfjs decoder on wasm, within 1e-4', async () => {
    const args = ['eval', '--model', hf, '--data', data, '--max-bytes', '1024', '--window', '64', '--json'];
    const gpu = JSON.parse((await webgpu(...args)).stdout) as Located & { tokens: number; meanNll: number };
    const wasm = JSON.parse((await recur(...args, '--backend', 'tfjs')).stdout) as Located & {
      tokens: number;
      meanNll: number;
    };
    expect([gpu.path, gpu.backend]).toEqual(['tfjs', 'webgpu']);
    expect(gpu.tokens).toBe(wasm.tokens);
    expect(Math.abs(gpu.meanNll - wasm.meanNll)).toBeLessThan(1e-4);
  }, 300_000);

  it('bench: times the tfjs decoder on webgpu', async () => {
    const run = await webgpu('bench', '--model', gguf, '--prefill', '8', '--decode', '2', '--json');
    const out = JSON.parse(run.stdout) as Located & { decodeTokensPerSecond: number };
    expect([out.path, out.backend]).toEqual(['tfjs', 'webgpu']);
    expect(out.decodeTokensPerSecond).toBeGreaterThan(0);
  }, 300_000);
});
