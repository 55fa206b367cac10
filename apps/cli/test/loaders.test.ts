import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyModel, editJson, f32Safetensors, safetensorsHeader } from './support/files.js';
import { expectOneLineFailure, recur, shared } from './support/recur.js';

const stories = `${shared}models/stories260K/`;
const gguf = `${stories}stories260K.gguf`;
const hf = `${stories}hf`;

describe('nothing silent at load', () => {
  it('inspect says where the context length came from (the file’s own value; GGUF 2048, HF config.json 512)', async () => {
    const text = await recur('inspect', hf);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('context 512 (from max_position_embeddings in config.json)');
    const json = JSON.parse((await recur('inspect', gguf, '--json')).stdout) as {
      config: { maxPositionEmbeddings: number };
      contextSource: string;
    };
    expect(json).toMatchObject({
      config: { maxPositionEmbeddings: 2048 },
      contextSource: 'llama.context_length in stories260K.gguf',
    });
  });

  it('a NaN in the weights: generate and eval fail with one line naming the tensor', async () => {
    const model = copyModel(hf);
    const file = join(model, 'model.safetensors');
    const bytes = readFileSync(file);
    const { header, dataStart } = safetensorsHeader(bytes);
    const begin = header['model.layers.2.mlp.down_proj.weight']!.data_offsets[0];
    new DataView(bytes.buffer, bytes.byteOffset).setFloat32(dataStart + begin + 4 * 70, NaN, true);
    writeFileSync(file, bytes);
    const run = await recur('generate', '--model', model, '--max-new-tokens', '4', '--temperature', '0');
    expectOneLineFailure(
      run,
      /model\.safetensors: tensor "model\.layers\.2\.mlp\.down_proj\.weight" holds NaN at \[0, 70\]/,
    );
    expect(run.stdout).toBe('');
    const data = `${shared}corpora/tinystories_val/tinystories_val.txt`;
    expectOneLineFailure(
      await recur('eval', '--model', model, '--data', data, '--max-bytes', '2048', '--json'),
      /holds NaN/,
    );
  });

  it('a config.json declaring 3 layers over 5 is refused, naming the first unused layer', async () => {
    const model = copyModel(hf);
    editJson(join(model, 'config.json'), (c) => (c.num_hidden_layers = 3));
    expectOneLineFailure(
      await recur('generate', '--model', model, '--max-new-tokens', '4'),
      /"model\.layers\.3\..*" belongs to layer 3 but num_hidden_layers declares 3 layers/,
    );
  });
});

describe('--adapter must fit the model', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-adapter-'));
  const adapterDir = (
    name: string,
    tensors: Record<string, { shape: number[]; data: Float32Array }>,
    base = '',
  ): string => {
    const path = join(dir, name);
    mkdirSync(path, { recursive: true });
    writeFileSync(join(path, 'adapter_model.safetensors'), f32Safetensors(tensors));
    writeFileSync(
      join(path, 'adapter_config.json'),
      JSON.stringify({
        peft_type: 'LORA',
        task_type: 'CAUSAL_LM',
        base_model_name_or_path: base,
        r: 2,
        lora_alpha: 2,
        target_modules: ['q_proj'],
        rank_pattern: {},
        alpha_pattern: {},
        lora_dropout: 0,
        bias: 'none',
        fan_in_fan_out: false,
        inference_mode: true,
        use_rslora: false,
      }),
    );
    return path;
  };
  const q = (layer: number, factor: 'A' | 'B') =>
    `base_model.model.model.layers.${layer}.self_attn.q_proj.lora_${factor}.weight`;
  const zeros = (shape: number[]) => ({ shape, data: new Float32Array(shape[0]! * shape[1]!) });
  const generate = (adapter: string) =>
    recur('generate', '--model', hf, '--adapter', adapter, '--max-new-tokens', '4', '--temperature', '0', '--json');

  it('a fitting adapter is accepted', async () => {
    expect((await generate(adapterDir('ok', { [q(4, 'A')]: zeros([2, 64]), [q(4, 'B')]: zeros([64, 2]) }))).code).toBe(
      0,
    );
  });

  it('an adapter for a deeper model (layer 5 of 5) is refused', async () => {
    const run = await generate(adapterDir('deep', { [q(5, 'A')]: zeros([2, 64]), [q(5, 'B')]: zeros([64, 2]) }));
    expectOneLineFailure(
      run,
      /adapter_model\.safetensors: tensor ".*layers\.5\.self_attn\.q_proj\.lora_A\.weight" adapts layer 5 but the model has 5 layers/,
    );
  });

  it('factors of the wrong shape, or one factor without the other, are refused', async () => {
    expectOneLineFailure(
      await generate(adapterDir('narrow', { [q(0, 'A')]: zeros([2, 32]), [q(0, 'B')]: zeros([64, 2]) })),
      /lora_A\.weight" has shape \[2, 32\] but .*q_proj.* needs \[r, 64\]/,
    );
    expectOneLineFailure(
      await generate(adapterDir('rank', { [q(0, 'A')]: zeros([2, 64]), [q(0, 'B')]: zeros([64, 3]) })),
      /rank/,
    );
    expectOneLineFailure(await generate(adapterDir('lone', { [q(0, 'A')]: zeros([2, 64]) })), /lora_B/);
  });

  it('base_model_name_or_path naming an existing model of another shape is refused; another name is fine', async () => {
    const other = copyModel(hf);
    editJson(join(other, 'config.json'), (c) => (c.num_hidden_layers = 4));
    const fits = { [q(0, 'A')]: zeros([2, 64]), [q(0, 'B')]: zeros([64, 2]) };
    expectOneLineFailure(
      await generate(adapterDir('base-other', fits, other)),
      /base_model_name_or_path ".*" has 4 layers but the model \(.*hf\) has 5: the adapter was made for another model/,
    );
    expect((await generate(adapterDir('base-hub', fits, 'someone/stories260K'))).code).toBe(0);
  });
});

describe('export --lora peft', () => {
  it('refuses a model with per-loop norms (they cannot go into a PEFT adapter) and suggests --lora merge', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-export-norms-'));
    const converted = join(dir, 'rrt');
    expect(
      (
        await recur(
          'convert',
          hf,
          '--out',
          converted,
          '--loops',
          '2',
          '--strategy',
          'middle-cycle',
          '--lora-rank-attn',
          '2',
          '--lora-rank-mlp',
          '2',
          '--norms',
          'per-loop',
          '--json',
        )
      ).code,
    ).toBe(0);
    const run = await recur('export', converted, '--out', join(dir, 'peft'), '--lora', 'peft');
    expectOneLineFailure(run, /per-loop norms.*--lora merge/);
    expect(() => readFileSync(join(dir, 'peft', 'config.json'))).toThrow();
  });
});
