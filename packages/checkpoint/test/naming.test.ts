import { describe, expect, it } from 'vitest';
import { ggufToHfName, hfToGgufName, permuteRopeRows, unpermuteRopeRows } from '@recur/checkpoint';

/** llama.cpp's converter: HF rows viewed as [heads, 2, headDim/2, cols], middle axes swapped. */
function permuteLikeLlamaCpp(data: Float32Array, heads: number, cols: number): Float32Array {
  const headDim = data.length / cols / heads;
  const half = headDim / 2;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < 2; j++) {
      for (let i = 0; i < half; i++) {
        const from = (h * headDim + j * half + i) * cols; // HF [h, j, i]
        const to = (h * headDim + i * 2 + j) * cols; // stored [h, i, j]
        out.set(data.subarray(from, from + cols), to);
      }
    }
  }
  return out;
}

describe('GGUF → HF naming and the q/k row permutation', () => {
  it('maps every llama.cpp tensor name to its HF key and keeps unknown names', () => {
    const cases: [string, string][] = [
      ['token_embd.weight', 'model.embed_tokens.weight'],
      ['output_norm.weight', 'model.norm.weight'],
      ['output.weight', 'lm_head.weight'],
      ['blk.0.attn_norm.weight', 'model.layers.0.input_layernorm.weight'],
      ['blk.12.attn_q.weight', 'model.layers.12.self_attn.q_proj.weight'],
      ['blk.3.attn_k.bias', 'model.layers.3.self_attn.k_proj.bias'],
      ['blk.3.attn_v.weight', 'model.layers.3.self_attn.v_proj.weight'],
      ['blk.3.attn_output.weight', 'model.layers.3.self_attn.o_proj.weight'],
      ['blk.3.ffn_norm.weight', 'model.layers.3.post_attention_layernorm.weight'],
      ['blk.3.ffn_gate.weight', 'model.layers.3.mlp.gate_proj.weight'],
      ['blk.3.ffn_up.weight', 'model.layers.3.mlp.up_proj.weight'],
      ['blk.3.ffn_down.weight', 'model.layers.3.mlp.down_proj.weight'],
      ['rope_freqs.weight', 'rope_freqs.weight'],
      ['blk.3.attn_q_norm.weight', 'blk.3.attn_q_norm.weight'],
      ['__proto__.weight', '__proto__.weight'],
    ];
    for (const [gguf, hf] of cases) expect(ggufToHfName(gguf)).toBe(hf);
  });

  it('undoes llama.cpp’s permutation for q (8 heads) and k (2 heads), matrices and biases', () => {
    for (const [heads, headDim, cols] of [
      [8, 4, 3],
      [2, 8, 5],
      [3, 6, 1],
    ] as const) {
      const hf = Float32Array.from({ length: heads * headDim * cols }, (_, i) => i);
      expect(unpermuteRopeRows(permuteLikeLlamaCpp(hf, heads, cols), heads, cols)).toEqual(hf);
    }
  });

  it('maps every HF key back to its GGUF name, and nothing else', () => {
    const names = [
      'token_embd.weight',
      'output_norm.weight',
      'output.weight',
      'blk.3.attn_norm.weight',
      'blk.3.attn_q.weight',
      'blk.3.attn_q.bias',
      'blk.3.attn_k.weight',
      'blk.3.attn_v.weight',
      'blk.3.attn_output.weight',
      'blk.3.ffn_norm.weight',
      'blk.3.ffn_gate.weight',
      'blk.3.ffn_up.weight',
      'blk.3.ffn_down.weight',
    ];
    for (const gguf of names) expect(hfToGgufName(ggufToHfName(gguf))).toBe(gguf);
    for (const unknown of [
      'model.layers.1.self_attn.q_proj.lora_A.loop0.weight',
      'rope_freqs.weight',
      'constructor.weight',
    ])
      expect(hfToGgufName(unknown)).toBeUndefined();
  });

  it('permuteRopeRows is llama.cpp’s permutation and the inverse of unpermuteRopeRows', () => {
    for (const [heads, headDim, cols] of [
      [8, 4, 3],
      [2, 8, 5],
      [3, 6, 1],
    ] as const) {
      const hf = Float32Array.from({ length: heads * headDim * cols }, (_, i) => i);
      expect(permuteRopeRows(hf, heads, cols)).toEqual(permuteLikeLlamaCpp(hf, heads, cols));
      expect(unpermuteRopeRows(permuteRopeRows(hf, heads, cols), heads, cols)).toEqual(hf);
    }
  });
});
