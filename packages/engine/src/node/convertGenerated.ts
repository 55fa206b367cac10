import { convertModel, type ConvertOptions } from '../convert.js';
import { disposeModel } from '../model.js';
import type { ConvertSummary } from './convertStream.js';
import { loadModel } from './load.js';
import type { OutputOptions } from './output.js';
import { saveModel } from './save.js';

/**
 * `convertToFolder` for a generated LoRA kind (hyper, scaled): in memory, since a kind's stored tensors
 * depend on every loop of a position at once (scaled fits all its loops' residuals together; hyper's
 * generators are shared by all positions), so they cannot be streamed one shared step at a time.
 */
export async function convertGeneratedToFolder(
  sourcePath: string,
  dir: string,
  options: ConvertOptions & OutputOptions,
): Promise<ConvertSummary> {
  const model = await loadModel(sourcePath);
  try {
    const converted = await convertModel(model, options);
    try {
      const { bytes } = await saveModel(converted, dir, {
        sources: [sourcePath, ...(options.sources ?? [])],
        ...(options.force !== undefined && { force: options.force }),
      });
      const { plan, loraEnergy, parameters, recur } = converted;
      return { plan, loraEnergy, parameters, recur, bytes };
    } finally {
      disposeModel(converted);
    }
  } finally {
    disposeModel(model);
  }
}
