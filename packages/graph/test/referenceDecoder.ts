import type { DecoderConfig } from '../src/index.js';
import {
  refAddVectors as add,
  refAttendVector as attention,
  refMatVec as matVec,
  refRmsVector as rms,
  refRopeVector as rope,
  refApplyAttentionProbabilities,
  refAttentionProbabilities,
} from '@recur/tensor/reference';

/**
 * An independent float64 Llama forward in plain loops (no tfjs, no shared code with the model),
 * used as the oracle for the tensor implementation. Returns logits [T, V] flattened. A plain model's
 * `echoAttention` (EchoAtt: layer `step` applies layer `source`'s probabilities to its own values) is honoured.
 */
export function referenceForward(
  config: DecoderConfig,
  w: ReadonlyMap<string, Float32Array>,
  ids: number[],
): Float64Array {
  const { hiddenSize: d, numHeads: H, numKvHeads: Hkv, headDim: hd, vocabSize: V } = config;
  const get = (name: string) => w.get(name)!;
  const T = ids.length;
  let h = ids.map((id) => Array.from(get('model.embed_tokens.weight').subarray(id * d, (id + 1) * d)));
  const echo = new Map((config.echoAttention ?? []).map((r) => [r.step, r.source]));
  const maps = new Map<number, Float64Array>(); // layer → probabilities [H, T, T]
  const dims = { tokens: T, keys: T, heads: H, kvHeads: Hkv, headDim: hd, queryOffset: 0 };
  for (let l = 0; l < config.numLayers; l++) {
    const p = (m: string) => get(`model.layers.${l}.${m}`);
    const x = h.map((row) => rms(row, p('input_layernorm.weight'), config.rmsNormEps));
    const source = echo.get(l);
    if (source !== undefined) {
      const v = x.flatMap((row) => matVec(p('self_attn.v_proj.weight'), row, Hkv * hd));
      const attn = refApplyAttentionProbabilities(maps.get(source)!, v, dims); // [T, H·hd]
      h = h.map((row, t) =>
        add(row, matVec(p('self_attn.o_proj.weight'), Array.from(attn.subarray(t * H * hd, (t + 1) * H * hd)), d)),
      );
      h = mlp(config, p, h);
      continue;
    }
    const q = x.map((row, t) => rope(matVec(p('self_attn.q_proj.weight'), row, H * hd), t, H, hd, config.ropeTheta));
    const k = x.map((row, t) =>
      rope(matVec(p('self_attn.k_proj.weight'), row, Hkv * hd), t, Hkv, hd, config.ropeTheta),
    );
    const v = x.map((row) => matVec(p('self_attn.v_proj.weight'), row, Hkv * hd));
    if ([...echo.values()].includes(l)) maps.set(l, refAttentionProbabilities(q.flat(), k.flat(), dims));
    const attn = q.map((qRow, t) => attention(qRow, k.slice(0, t + 1), v.slice(0, t + 1), H, Hkv, hd)); // causal
    h = h.map((row, t) => add(row, matVec(p('self_attn.o_proj.weight'), attn[t]!, d)));
    h = mlp(config, p, h);
  }
  const head = config.tieWordEmbeddings ? get('model.embed_tokens.weight') : get('lm_head.weight');
  const out = new Float64Array(T * V);
  h.forEach((row, t) => out.set(matVec(head, rms(row, get('model.norm.weight'), config.rmsNormEps), V), t * V));
  return out;
}

function mlp(config: DecoderConfig, p: (m: string) => Float32Array, h: number[][]): number[][] {
  const { hiddenSize: d, intermediateSize: ff } = config;
  return h.map((row) => {
    const y = rms(row, p('post_attention_layernorm.weight'), config.rmsNormEps);
    const gate = matVec(p('mlp.gate_proj.weight'), y, ff);
    const up = matVec(p('mlp.up_proj.weight'), y, ff);
    const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]!);
    return add(row, matVec(p('mlp.down_proj.weight'), act, d));
  });
}
