/** The one place GGUF (llama.cpp) tensor names and Hugging Face Llama keys are mapped to each other. */

const globalNames: Readonly<Record<string, string>> = {
  token_embd: 'model.embed_tokens',
  output_norm: 'model.norm',
  output: 'lm_head',
};

const blockNames: Readonly<Record<string, string>> = {
  attn_norm: 'input_layernorm',
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  ffn_norm: 'post_attention_layernorm',
  ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj',
  ffn_down: 'mlp.down_proj',
};

/** `blk.3.attn_q.weight` → `model.layers.3.self_attn.q_proj.weight`; unknown names are kept as they are. */
export function ggufToHfName(name: string): string {
  const block = /^blk\.(\d+)\.(\w+)\.(weight|bias)$/.exec(name);
  if (block) {
    const [, layer, part, kind] = block;
    const hf = Object.hasOwn(blockNames, part!) ? blockNames[part!] : undefined;
    return hf ? `model.layers.${layer}.${hf}.${kind}` : name;
  }
  const global = /^(\w+)\.(weight|bias)$/.exec(name);
  if (global) {
    const [, part, kind] = global;
    const hf = Object.hasOwn(globalNames, part!) ? globalNames[part!] : undefined;
    return hf ? `${hf}.${kind}` : name;
  }
  return name;
}

/**
 * Heads to un-interleave for a HF key: llama.cpp's converter stores q and k rows in the
 * interleaved RoPE layout; everything else is stored as Hugging Face has it.
 */
export function ropePermutedHeads(hfName: string, numHeads: number, numKvHeads: number): number | undefined {
  if (/^model\.layers\.\d+\.self_attn\.q_proj\.(weight|bias)$/.test(hfName)) return numHeads;
  if (/^model\.layers\.\d+\.self_attn\.k_proj\.(weight|bias)$/.test(hfName)) return numKvHeads;
  return undefined;
}

const invert = (table: Readonly<Record<string, string>>): Map<string, string> =>
  new Map(Object.entries(table).map(([gguf, hf]) => [hf, gguf]));
const globalGguf = invert(globalNames);
const blockGguf = invert(blockNames);

/** `model.layers.3.self_attn.q_proj.weight` → `blk.3.attn_q.weight`; undefined for a key llama.cpp has no name for. */
export function hfToGgufName(name: string): string | undefined {
  const block = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  if (block) {
    const part = blockGguf.get(block[2]!);
    return part ? `blk.${block[1]}.${part}.${block[3]}` : undefined;
  }
  const global = /^(.+)\.(weight|bias)$/.exec(name);
  const part = global ? globalGguf.get(global[1]!) : undefined;
  return part ? `${part}.${global![2]}` : undefined;
}
