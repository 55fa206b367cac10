import { benchmarkForward } from '@recur/engine';
import type { BackendName } from '@recur/tensor';
import { startBackend } from './backend.js';
import { openModel } from './load/openModel.js';
import { filesFromUrl } from './load/sources.js';

/**
 * bench.html?model=URL&backend=webgpu|wasm&kernels=on|off&prefill=N&decode=N — times the tfjs
 * decoder's batch-1 prefill and cached decode (engine.benchmarkForward) in this browser and puts
 * the result in #result and `document.body.dataset.result` (what tooling/bench/webgpu.mjs reads).
 */
async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const prefer: BackendName = params.get('backend') === 'wasm' ? 'wasm' : 'webgpu';
  const backend = await startBackend(prefer, new URL('wasm/', document.baseURI).href, {
    recurKernels: params.get('kernels') !== 'off',
  });
  document.getElementById('backend')!.textContent = backend.name;
  const model = await openModel(
    await filesFromUrl(params.get('model') ?? '/shared/models/stories260K/stories260K.gguf'),
    backend,
    () => undefined,
  );
  const result = await benchmarkForward(model.decoder, {
    prefillTokens: Number(params.get('prefill') ?? 64),
    decodeTokens: Number(params.get('decode') ?? 32),
    repeats: 2,
  });
  const json = JSON.stringify({
    backend: backend.name,
    ...(backend.adapter ? { adapter: backend.adapter } : {}),
    kernels: params.get('kernels') !== 'off',
    parameters: model.decoder.parameterCount,
    ...result,
  });
  document.getElementById('result')!.textContent = json;
  document.body.dataset.result = json;
  document.body.dataset.state = 'done';
}

main().catch((err: unknown) => {
  document.body.dataset.state = 'failed';
  document.getElementById('result')!.textContent = err instanceof Error ? err.message : String(err);
});
