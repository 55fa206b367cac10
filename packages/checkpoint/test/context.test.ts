import { describe, expect, it } from 'vitest';
import { bytesSource, openCheckpoint, writeGguf } from '@recur/checkpoint';
import { loadCheckpoint } from '@recur/checkpoint/node';
import { storiesGguf, storiesHf } from './stories.js';
import { tinyGgufMetadata, tinyHfConfigJson, tinySafetensors, tinyWeights } from './tiny-model.js';

const text = (s: string, name: string) => bytesSource(new TextEncoder().encode(s), name);

/**
 * The training context is the file's own declared value; a default only where the file declares
 * none, and then it says so. (stories260K's GGUF declares 2048, its converted config.json 512:
 * both files genuinely differ, and each reports its own.)
 */
describe('context length: the file’s own declared value, and where it came from', () => {
  it('stories260K: the GGUF declares 2048 in llama.context_length, the HF config.json 512', async () => {
    const gguf = await loadCheckpoint(storiesGguf);
    expect(gguf.config.maxPositionEmbeddings).toBe(2048);
    expect(gguf.contextSource).toBe('llama.context_length in stories260K.gguf');
    await gguf.close();
    const hf = await loadCheckpoint(storiesHf);
    expect(hf.config.maxPositionEmbeddings).toBe(512);
    expect(hf.contextSource).toBe('max_position_embeddings in config.json');
    await hf.close();
  });

  it('a config.json without max_position_embeddings gets 2048 and says it is a default', async () => {
    const checkpoint = await openCheckpoint([
      text(tinyHfConfigJson({ max_position_embeddings: undefined }), 'dir/config.json'),
      bytesSource(tinySafetensors(), 'dir/model.safetensors'),
    ]);
    expect(checkpoint.config.maxPositionEmbeddings).toBe(2048);
    expect(checkpoint.contextSource).toBe('default: config.json declares no max_position_embeddings');
  });

  it('a GGUF without llama.context_length opens with the default 2048 and says so', async () => {
    const metadata = tinyGgufMetadata().filter((e) => e.key !== 'llama.context_length');
    const tensors = tinyWeights().map((w, i) => ({ ...w, name: ggufNames[i]!, dtype: 'F32' as const }));
    const checkpoint = await openCheckpoint([bytesSource(writeGguf({ metadata, tensors }), 'dir/tiny.gguf')]);
    expect(checkpoint.config.maxPositionEmbeddings).toBe(2048);
    expect(checkpoint.contextSource).toBe('default: tiny.gguf declares no llama.context_length');
  });
});

/** GGUF names of tinyWeights(), in its order (expectedTensors order). */
const ggufNames = [
  'token_embd.weight',
  'output_norm.weight',
  'blk.0.attn_norm.weight',
  'blk.0.attn_q.weight',
  'blk.0.attn_k.weight',
  'blk.0.attn_v.weight',
  'blk.0.attn_output.weight',
  'blk.0.ffn_norm.weight',
  'blk.0.ffn_gate.weight',
  'blk.0.ffn_up.weight',
  'blk.0.ffn_down.weight',
];
