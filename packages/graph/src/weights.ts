import type { tf } from '@recur/tensor';
import type { DecoderConfig } from './config.js';
import { echoOnlyLayers } from './echo.js';

/** Parameters addressed by their Hugging Face checkpoint keys (`model.layers.3.self_attn.q_proj.weight`). */
export type DecoderWeights = ReadonlyMap<string, tf.Tensor>;

export interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

export const layerKey = (layer: number, module: string): string => `model.layers.${layer}.${module}`;

/** Every tensor a decoder of this config needs, with its shape, in checkpoint order. */
export function decoderWeightSpecs(config: DecoderConfig): WeightSpec[] {
  const { hiddenSize: d, vocabSize } = config;
  const specs: WeightSpec[] = [{ name: 'model.embed_tokens.weight', shape: [vocabSize, d] }];
  for (let i = 0; i < config.numLayers; i++) {
    specs.push(...layerWeightSpecs(config, i));
  }
  specs.push({ name: 'model.norm.weight', shape: [d] });
  if (!config.tieWordEmbeddings) specs.push({ name: 'lm_head.weight', shape: [vocabSize, d] });
  return specs;
}

export function layerWeightSpecs(config: DecoderConfig, layer: number): WeightSpec[] {
  const { hiddenSize: d, intermediateSize: ff, headDim } = config;
  const qOut = config.numHeads * headDim;
  const kvOut = config.numKvHeads * headDim;
  const withQk = !echoOnlyLayers(config).has(layer); // EchoAtt: a layer that only reuses maps has no q/k
  const qk = (spec: WeightSpec[]) => (withQk ? spec : []);
  const specs: WeightSpec[] = [
    { name: layerKey(layer, 'input_layernorm.weight'), shape: [d] },
    ...qk([
      { name: layerKey(layer, 'self_attn.q_proj.weight'), shape: [qOut, d] },
      { name: layerKey(layer, 'self_attn.k_proj.weight'), shape: [kvOut, d] },
    ]),
    { name: layerKey(layer, 'self_attn.v_proj.weight'), shape: [kvOut, d] },
    { name: layerKey(layer, 'self_attn.o_proj.weight'), shape: [d, qOut] },
    { name: layerKey(layer, 'post_attention_layernorm.weight'), shape: [d] },
    { name: layerKey(layer, 'mlp.gate_proj.weight'), shape: [ff, d] },
    { name: layerKey(layer, 'mlp.up_proj.weight'), shape: [ff, d] },
    { name: layerKey(layer, 'mlp.down_proj.weight'), shape: [d, ff] },
  ];
  if (config.attentionBias) {
    specs.push(
      ...qk([
        { name: layerKey(layer, 'self_attn.q_proj.bias'), shape: [qOut] },
        { name: layerKey(layer, 'self_attn.k_proj.bias'), shape: [kvOut] },
      ]),
      { name: layerKey(layer, 'self_attn.v_proj.bias'), shape: [kvOut] },
    );
  }
  return specs;
}

/** Unique parameters (tied embeddings counted once). */
export function parameterCount(config: DecoderConfig): number {
  return decoderWeightSpecs(config).reduce((sum, s) => sum + s.shape.reduce((a, b) => a * b, 1), 0);
}
