import { convertModel, type ConvertOptions, type ConvertedModel, type LoadedModel } from '@recur/engine';
import { activeBackend, initBackend, type BackendName } from '@recur/tensor';

/**
 * convertModel with the wasm backend active. Conversion (truncated SVDs of the tied residuals) reads
 * small products back synchronously; on WebGPU each such read goes through tfjs's canvas-based
 * readSync, which lost the SwiftShader device in headless chromium. The new weights are made on
 * wasm and move to WebGPU the first time a WebGPU op reads them.
 */
export async function convertOnWasm(model: LoadedModel, options: ConvertOptions, wasmPaths: string): Promise<ConvertedModel> {
  const previous: BackendName = activeBackend();
  if (previous !== 'webgpu') return convertModel(model, options);
  await initBackend({ backend: 'wasm', wasmPaths });
  try {
    return await convertModel(model, options);
  } finally {
    await initBackend({ backend: previous });
  }
}
