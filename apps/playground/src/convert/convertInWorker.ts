import type { ConvertOptions, ConvertedModel, LoadedModel } from '@recur/engine';
import { Decoder } from '@recur/graph';
import { DepthwiseLora } from '@recur/lora';
import type { ArrayTable, ConvertReply, ConvertRequest } from './protocol.js';

/**
 * engine.convertModel in a worker (see convertWorker.ts), reporting progress as it goes; the
 * converted weights are rebuilt here on the page's backend.
 */
export async function convertInWorker(
  model: LoadedModel,
  options: ConvertOptions,
  wasmPaths: string,
): Promise<ConvertedModel> {
  const { onProgress, ...plain } = options;
  const weights: ArrayTable = [];
  for (const [name, t] of model.decoder.weights) weights.push([name, Float32Array.from(await t.data()), [...t.shape]]);
  const request: ConvertRequest = {
    wasmPaths,
    config: model.decoder.config,
    weights,
    sourcePath: model.source.path,
    options: plain,
  };
  const worker = new Worker(new URL('./convertWorker.ts', import.meta.url), { type: 'module' });
  try {
    const done = await new Promise<Extract<ConvertReply, { kind: 'done' }>>((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<ConvertReply>) => {
        const m = event.data;
        if (m.kind === 'progress') onProgress?.(m.done, m.total);
        else if (m.kind === 'error') reject(new Error(`conversion failed: ${m.message}`));
        else resolve(m);
      };
      worker.onerror = (event) => reject(new Error(`the conversion worker failed: ${event.message}`));
      worker.postMessage(
        request,
        weights.map(([, data]) => data.buffer),
      );
    });
    const lora = DepthwiseLora.fromArrays(
      new Map(done.lora.map(([name, data, shape]) => [name, { data, shape }])),
      done.loraScale,
    );
    const decoder = Decoder.fromArrays(done.config, new Map(done.weights.map(([name, data]) => [name, data])), {
      adapter: lora,
    });
    return {
      ...model,
      config: { ...model.config, numLayers: done.plan.uniqueLayers },
      decoder,
      plan: done.plan,
      lora,
      loraEnergy: done.loraEnergy,
      parameters: done.parameters,
      recur: done.recur,
    };
  } finally {
    worker.terminate();
  }
}
