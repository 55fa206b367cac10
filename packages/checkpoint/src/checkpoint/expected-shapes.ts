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

/** How the file itself names things, so messages point at what the user can see. */
export interface ConfigSource {
  /** The config field that sets the layer count (`num_hidden_layers`, `llama.block_count`). */
  readonly layerField: string;
  /** A tensor's name in the file (GGUF names differ from the HF keys checked here). */
  readonly fileName?: (hfName: string) => string;
  /** Modules stored as shared matrix atoms, not per layer (config.json's `masa.modules`): not expected per layer. */
  readonly atomShared?: readonly string[];
  /** Tensors the config says are not stored at all (config.json's `echo.dropped`): not expected. */
  readonly absent?: readonly string[];
}

const hfSource: ConfigSource = { layerField: 'num_hidden_layers' };

/**
 * Refuses a checkpoint whose tensors cannot run under its config: a required tensor absent
 * ('missing-tensor'), of another shape ('shape-mismatch'), or a layer the config does not
 * declare ('unused-tensor': a config that says 3 layers over 5 would silently drop two). A tied
 * model may still carry `lm_head.weight`; if so its shape is checked too. Other extra tensors
 * (adapters, router weights, rotary buffers) are allowed.
 */
export function checkTensorsAgainstConfig(
  file: string,
  config: ModelConfig,
  tensors: readonly TensorInfo[],
  source: ConfigSource = hfSource,
): void {
  checkNoExtraLayers(file, config, tensors, source);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const atomShared = (name: string) => source.atomShared?.some((m) => name.endsWith(`.${m}.weight`)) ?? false;
  const absent = new Set(source.absent ?? []);
  for (const [name, shape] of expectedTensors(config)) {
    if (atomShared(name) || absent.has(name)) continue;
    const info = byName.get(name);
    if (!info)
      throw new CheckpointError(
        'missing-tensor',
        file,
        `tensor "${name}" is missing (the config needs it with shape ${formatShape(shape)})`,
      );
    checkShape(file, info, shape);
  }
  const head = byName.get('lm_head.weight');
  if (head && config.tieWordEmbeddings) checkShape(file, head, [config.vocabSize, config.hiddenSize]);
}

function checkShape(file: string, info: TensorInfo, shape: readonly number[]): void {
  const same = info.shape.length === shape.length && info.shape.every((d, i) => d === shape[i]);
  if (!same) {
    throw new CheckpointError(
      'shape-mismatch',
      file,
      `tensor "${info.name}" has shape ${formatShape(info.shape)} but the config implies ${formatShape(shape)}`,
    );
  }
}

const layerOf = /^model\.layers\.(\d+)\./;

function checkNoExtraLayers(
  file: string,
  config: ModelConfig,
  tensors: readonly TensorInfo[],
  source: ConfigSource,
): void {
  const extra = tensors.filter((t) => Number(layerOf.exec(t.name)?.[1] ?? -1) >= config.numLayers);
  const first = extra[0];
  if (!first) return;
  const layer = Number(layerOf.exec(first.name)![1]);
  const layers = `${config.numLayers} layer${config.numLayers === 1 ? '' : 's'}`;
  const more = extra.length > 1 ? ` (${extra.length} such tensors in all)` : '';
  throw new CheckpointError(
    'unused-tensor',
    file,
    `tensor "${source.fileName?.(first.name) ?? first.name}" belongs to layer ${layer} but ${source.layerField} declares ${layers}${more}: the config and the weights disagree`,
  );
}
