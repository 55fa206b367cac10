import type { DecoderConfig } from '../src/index.js';
import {
  refAddVectors as add,
  refAttendVector as attention,
  refMatVec as matVec,
  refRmsVector as rms,
  refRopeVector as rope,
} from '@recur/tensor/reference';

/**
 * An independent float64 Llama forward in plain loops (no tfjs, no shared code with the model),
 * used as the oracle for the tensor implementation. Returns logits [T, V] flattened.
 */
export function referenceForward(
  config: DecoderConfig,
  w: ReadonlyMap<string, Float32Array>,
  ids: number[],
): Float64Array {
  const { hiddenSize: d, numHeads: H, numKvHeads: Hkv, headDim: hd, intermediateSize: ff, vocabSize: V } = config;
  const get = (name: string) => w.get(name)!;
  const T = ids.length;
  let h = ids.map((id) => Array.from(get('model.embed_tokens.weight').subarray(id * d, (id + 1) * d)));
  for (let l = 0; l < config.numLayers; l++) {
    const p = (m: string) => get(`model.layers.${l}.${m}`);
    const x = h.map((row) => rms(row, p('input_layernorm.weight'), config.rmsNormEps));
    const q = x.map((row, t) => rope(matVec(p('self_attn.q_proj.weight'), row, H * hd), t, H, hd, config.ropeTheta));
    const k = x.map((row, t) =>
      rope(matVec(p('self_attn.k_proj.weight'), row, Hkv * hd), t, Hkv, hd, config.ropeTheta),
    );
    const v = x.map((row) => matVec(p('self_attn.v_proj.weight'), row, Hkv * hd));
    const attn = q.map((qRow, t) => attention(qRow, k.slice(0, t + 1), v.slice(0, t + 1), H, Hkv, hd)); // causal
    h = h.map((row, t) => add(row, matVec(p('self_attn.o_proj.weight'), attn[t]!, d)));
    h = h.map((row) => {
      const y = rms(row, p('post_attention_layernorm.weight'), config.rmsNormEps);
      const gate = matVec(p('mlp.gate_proj.weight'), y, ff);
      const up = matVec(p('mlp.up_proj.weight'), y, ff);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]!);
      return add(row, matVec(p('mlp.down_proj.weight'), act, d));
    });
  }
  const head = config.tieWordEmbeddings ? get('model.embed_tokens.weight') : get('lm_head.weight');
  const out = new Float64Array(T * V);
  h.forEach((row, t) => out.set(matVec(head, rms(row, get('model.norm.weight'), config.rmsNormEps), V), t * V));
  return out;
}
