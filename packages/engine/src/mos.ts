import { ConfigError, type Checkpoint, type ModelConfig } from '@recur/checkpoint';
import { LoraError, MosLora, mosTensorPrefix, projectionShape, type ArrayTensor, type MosSection } from '@recur/lora';
import type { RecurSection } from './recurConfig.js';

/** Per-loop norm weights stored beside the shared ones (`model.layers.1.input_layernorm.loop2.weight`). */
const loopNorm = /^model\.layers\.\d+\.(input_layernorm|post_attention_layernorm)\.loop\d+\.weight$/;

/** The recur section's MoS part, or undefined for a model with depth-wise (or no) LoRA. */
export function mosSectionOf(recur: RecurSection | undefined): MosSection | undefined {
  return recur?.loraKind === 'mos' ? recur.mos : undefined;
}

/**
 * A MoS model's pools, index tables and per-loop norms, read from its checkpoint and checked against the
 * config (ConfigError naming the file and the tensor at fault).
 */
export async function loadMos(checkpoint: Checkpoint, config: ModelConfig, recur: RecurSection): Promise<MosLora> {
  const section = mosSectionOf(recur);
  if (!section) throw new ConfigError(checkpoint.path, 'recur.mos', 'loraKind "mos" needs a mos section');
  const arrays = new Map<string, ArrayTensor>();
  for (const info of checkpoint.tensors)
    if (info.name.startsWith(mosTensorPrefix) || loopNorm.test(info.name))
      arrays.set(info.name, { data: await checkpoint.read(info.name), shape: info.shape });
  for (const [key, { data }] of arrays)
    if (!data.every(Number.isFinite))
      throw new ConfigError(checkpoint.path, 'recur.mos', `tensor ${key} holds non-finite values`);
  let lora: MosLora;
  try {
    lora = MosLora.fromArrays(arrays, section, recur.loraScale);
  } catch (error) {
    if (error instanceof LoraError) throw new ConfigError(checkpoint.path, 'recur.mos', error.message);
    throw error;
  }
  for (const [module, { layout }] of lora.tables) {
    const expected = projectionShape(config, module);
    if (layout.shape.join(',') !== expected.join(',')) {
      lora.dispose();
      throw new ConfigError(
        checkpoint.path,
        'recur.mos',
        `pools of ${module} make [${layout.shape.join(', ')}] factors; the model's ${module} is [${expected.join(', ')}]`,
      );
    }
  }
  return lora;
}
