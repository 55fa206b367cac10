/// <reference lib="webworker" />
import { convertModel, type LoadedModel } from '@recur/engine';
import { Decoder } from '@recur/graph';
import { initBackend, type tf } from '@recur/tensor';
import type { ArrayTable, ConvertReply, ConvertRequest } from './protocol.js';

/**
 * Runs engine.convertModel off the page's thread, on the wasm backend: the truncated SVDs are
 * synchronous work, so here they neither freeze the page nor hide its progress bar (and they avoid
 * WebGPU's canvas-based synchronous reads). Weights come in and go out as transferred arrays.
 */
const scope = self as unknown as DedicatedWorkerGlobalScope;

scope.onmessage = (event: MessageEvent<ConvertRequest>) => {
  convert(event.data).catch((err: unknown) =>
    reply({ kind: 'error', message: err instanceof Error ? err.message : String(err) }),
  );
};

async function convert(request: ConvertRequest): Promise<void> {
  await initBackend({ backend: 'wasm', wasmPaths: request.wasmPaths });
  const decoder = Decoder.fromArrays(request.config, new Map(request.weights.map(([name, data]) => [name, data])));
  // convertModel reads only the decoder, its config and where it came from.
  const source = {
    decoder,
    config: request.config,
    source: { path: request.sourcePath, format: 'safetensors' },
    tensors: [],
  } as unknown as LoadedModel;
  const converted = await convertModel(source, {
    ...request.options,
    onProgress: (done, total) => reply({ kind: 'progress', done, total }),
  });
  const weights = await table(converted.decoder.weights);
  const lora = await table(converted.lora.tensors);
  const { plan, loraEnergy, parameters, recur } = converted;
  const config = converted.decoder.config;
  converted.decoder.dispose();
  converted.lora.dispose();
  decoder.dispose();
  reply(
    { kind: 'done', config, weights, lora, loraScale: converted.lora.scale, plan, loraEnergy, parameters, recur },
    [...weights, ...lora].map(([, data]) => data.buffer as ArrayBuffer),
  );
}

async function table(tensors: ReadonlyMap<string, tf.Tensor>): Promise<ArrayTable> {
  const out: ArrayTable = [];
  for (const [name, t] of tensors) out.push([name, (await t.data()) as Float32Array, [...t.shape]]);
  return out;
}

function reply(message: ConvertReply, transfer: ArrayBuffer[] = []): void {
  scope.postMessage(message, transfer);
}
