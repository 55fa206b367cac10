import { CheckpointError } from '../errors.js';
import type { ModelConfig } from '../config/model-config.js';
import { formatShape, type TensorInfo } from '../tensor-info.js';

/**
 * Every tensor a Llama-family decoder needs, with its HF shape ([out, in] for projections).
 * A generator, so checking a corrupt config (a billion layers) stops at the first absent tensor.
 */
export function* expectedTensors(config: ModelConfig): Generator<[name: string, shape: number[]]> {
  const { hiddenSize: d, intermediateSize: ffn, headDim, numHeads, numKvHeads } = config;
  const q = numHeads * headDim;
  const kv = numKvHeads * headDim;
  yield ['model.embed_tokens.weight', [config.vocabSize, d]];
  yield ['model.norm.weight', [d]];
  if (!config.tieWordEmbeddings) yield ['lm_head.weight', [config.vocabSize, d]];
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}.`;
    yield [`${p}input_layernorm.weight`, [d]];
    yield [`${p}self_attn.q_proj.weight`, [q, d]];
    yield [`${p}self_attn.k_proj.weight`, [kv, d]];
    yield [`${p}self_attn.v_proj.weight`, [kv, d]];
    yield [`${p}self_attn.o_proj.weight`, [d, q]];
    if (config.attentionBias) {
      yield [`${p}self_attn.q_proj.bias`, [q]];
      yield [`${p}self_attn.k_proj.bias`, [kv]];
      yield [`${p}self_attn.v_proj.bias`, [kv]];
    }
    yield [`${p}post_attention_layernorm.weight`, [d]];
    yield [`${p}mlp.gate_proj.weight`, [ffn, d]];
    yield [`${p}mlp.up_proj.weight`, [ffn, d]];
    yield [`${p}mlp.down_proj.weight`, [d, ffn]];
  }
}

/**
 * Refuses a checkpoint whose tensors cannot run under its config: a required tensor absent
 * ('missing-tensor') or of another shape ('shape-mismatch'). A tied model may still carry
 * `lm_head.weight`; if so its shape is checked too. Extra tensors are allowed.
 */
export function checkTensorsAgainstConfig(file: string, config: ModelConfig, tensors: readonly TensorInfo[]): void {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const [name, shape] of expectedTensors(config)) {
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
