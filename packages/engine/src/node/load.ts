import { loadCheckpoint } from '@recur/checkpoint/node';
import { buildModel, type BuildOptions, type LoadedModel } from '../model.js';

/** Opens a HF folder, a .safetensors file or a .gguf file and builds the model from it. */
export async function loadModel(path: string, options: BuildOptions = {}): Promise<LoadedModel> {
  const checkpoint = await loadCheckpoint(path);
  try {
    return await buildModel(checkpoint, options);
  } finally {
    await checkpoint.close();
  }
}
