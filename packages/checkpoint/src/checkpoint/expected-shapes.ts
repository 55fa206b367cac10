import { CheckpointError } from '../errors.js';
import type { ModelConfig } from '../config/model-config.js';
import { formatShape, type TensorInfo } from '../tensor-info.js';

/** Every tensor a Llama-family decoder needs, with its HF shape ([out, in] for projections). */
export function expectedTensorShapes(config: ModelConfig): Map<string, number[]> {
  const { hiddenSize: d, intermediateSize: ffn, headDim, numHeads, numKvHeads } = config;
  const q = numHeads * headDim;
  const kv = numKvHeads * headDim;
  const shapes = new Map<string, number[]>([
    ['model.embed_tokens.weight', [config.vocabSize, d]],
    ['model.norm.weight', [d]],
  ]);
  if (!config.tieWordEmbeddings) shapes.set('lm_head.weight', [config.vocabSize, d]);
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}.`;
    shapes.set(`${p}input_layernorm.weight`, [d]);
    shapes.set(`${p}self_attn.q_proj.weight`, [q, d]);
    shapes.set(`${p}self_attn.k_proj.weight`, [kv, d]);
    shapes.set(`${p}self_attn.v_proj.weight`, [kv, d]);
    shapes.set(`${p}self_attn.o_proj.weight`, [d, q]);
    if (config.attentionBias) {
      shapes.set(`${p}self_attn.q_proj.bias`, [q]);
      shapes.set(`${p}self_attn.k_proj.bias`, [kv]);
      shapes.set(`${p}self_attn.v_proj.bias`, [kv]);
    }
    shapes.set(`${p}post_attention_layernorm.weight`, [d]);
    shapes.set(`${p}mlp.gate_proj.weight`, [ffn, d]);
    shapes.set(`${p}mlp.up_proj.weight`, [ffn, d]);
    shapes.set(`${p}mlp.down_proj.weight`, [d, ffn]);
  }
  return shapes;
}

/**
 * Refuses a checkpoint whose tensors cannot run under its config: a required tensor absent
 * ('missing-tensor') or of another shape ('shape-mismatch'). A tied model may still carry
 * `lm_head.weight`; if so its shape is checked too. Extra tensors are allowed.
 */
export function checkTensorsAgainstConfig(file: string, config: ModelConfig, tensors: readonly TensorInfo[]): void {
  const expected = expectedTensorShapes(config);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const [name, shape] of expected) {
    const info = byName.get(name);
    if (!info) throw new CheckpointError('missing-tensor', file, `tensor "${name}" is missing (the config needs it with shape ${formatShape(shape)})`);
    checkShape(file, info, shape);
  }
  const head = byName.get('lm_head.weight');
  if (head && config.tieWordEmbeddings) checkShape(file, head, [config.vocabSize, config.hiddenSize]);
}

function checkShape(file: string, info: TensorInfo, shape: readonly number[]): void {
  const same = info.shape.length === shape.length && info.shape.every((d, i) => d === shape[i]);
  if (!same) {
    throw new CheckpointError('shape-mismatch', file, `tensor "${info.name}" has shape ${formatShape(info.shape)} but the config implies ${formatShape(shape)}`);
  }
}
