import {
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  writeFileSync,
  writeSync,
  ftruncateSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Files the page must refuse with a readable message, made in a temp folder (never in the repo). */
export interface BadInputs {
  /** A plain text file. */
  readonly notAModel: string;
  /** config.json, tokenizer.json and a model.safetensors cut in half. */
  readonly truncatedFolder: string[];
  /** config.json + a sparse model.safetensors whose embedding (F16, 600000 × 1024) is 2.3 GiB as float32. */
  readonly tooLargeFolder: string[];
}

export function makeBadInputs(hfDir: string): BadInputs {
  const dir = mkdtempSync(join(tmpdir(), 'recur-e2e-'));
  const notAModel = join(dir, 'notes.txt');
  writeFileSync(notAModel, 'this is not a model\n');

  const truncated = join(dir, 'truncated');
  mkdirSync(truncated);
  for (const name of ['config.json', 'tokenizer.json']) copyFileSync(join(hfDir, name), join(truncated, name));
  const weights = readFileSync(join(hfDir, 'model.safetensors'));
  writeFileSync(join(truncated, 'model.safetensors'), weights.subarray(0, Math.floor(weights.length / 2)));

  const large = join(dir, 'large');
  mkdirSync(large);
  writeFileSync(join(large, 'config.json'), JSON.stringify(largeConfig));
  writeSparseSafetensors(join(large, 'model.safetensors'));
  return {
    notAModel,
    truncatedFolder: ['config.json', 'tokenizer.json', 'model.safetensors'].map((n) => join(truncated, n)),
    tooLargeFolder: ['config.json', 'model.safetensors'].map((n) => join(large, n)),
  };
}

const largeConfig = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 1024,
  intermediate_size: 64,
  num_hidden_layers: 1,
  num_attention_heads: 8,
  num_key_value_heads: 8,
  vocab_size: 600000,
  max_position_embeddings: 256,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: true,
  hidden_act: 'silu',
};

/** A valid safetensors header over zero-filled (sparse) data: nothing but the header is written to disk. */
function writeSparseSafetensors(path: string): void {
  const d = largeConfig.hidden_size;
  const ff = largeConfig.intermediate_size;
  const shapes: [string, number[]][] = [
    ['model.embed_tokens.weight', [largeConfig.vocab_size, d]],
    ['model.norm.weight', [d]],
    ['model.layers.0.input_layernorm.weight', [d]],
    ['model.layers.0.post_attention_layernorm.weight', [d]],
    ...['q_proj', 'k_proj', 'v_proj', 'o_proj'].map((m): [string, number[]] => [
      `model.layers.0.self_attn.${m}.weight`,
      [d, d],
    ]),
    ['model.layers.0.mlp.gate_proj.weight', [ff, d]],
    ['model.layers.0.mlp.up_proj.weight', [ff, d]],
    ['model.layers.0.mlp.down_proj.weight', [d, ff]],
  ];
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, shape] of shapes) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 2;
    header[name] = { dtype: 'F16', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  const fd = openSync(path, 'w');
  writeSync(fd, prefix);
  writeSync(fd, json);
  ftruncateSync(fd, 8 + json.length + offset);
  closeSync(fd);
}
