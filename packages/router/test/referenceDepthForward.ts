import type { DecoderConfig } from '@recur/graph';
import {
  refAddVectors as add,
  refAttendVector as attention,
  refMatVec as matVec,
  refRmsVector as rms,
  refRopeVector as rope,
} from '@recur/tensor/reference';

/** prologue → `block` looped `loops` times → epilogue, as stored-layer indices. */
export interface ReferenceStructure {
  readonly prologue: readonly number[];
  readonly block: readonly number[];
  readonly loops: number;
  readonly epilogue: readonly number[];
}

type Rows = number[][];

/**
 * An independent float64 forward under per-token depth with MoR's recursion-wise caching, in plain
 * loops (no tfjs, no shared code with the model): token t runs loops 0..depths[t]−1; at loop r only
 * the tokens still running are computed, and their attention is among themselves (causal, at
 * their own positions); a token that left keeps its exit state and is absent from deeper loops.
 * Prologue and epilogue run on every token. Returns logits [T, V] flattened.
 */
export function referenceDepthForward(
  config: DecoderConfig,
  w: ReadonlyMap<string, Float32Array>,
  ids: readonly number[],
  depths: readonly number[],
  structure: ReferenceStructure,
  /** MoR's gated update h ← h + g·Block(h), g from the row's state entering loop r; without it, h ← Block(h). */
  gate?: (r: number, h: readonly number[]) => number,
): Float64Array {
  const { hiddenSize: d, vocabSize: V } = config;
  const all = ids.map((_, t) => t);
  let h: Rows = ids.map((id) => Array.from(w.get('model.embed_tokens.weight')!.subarray(id * d, (id + 1) * d)));
  for (const layer of structure.prologue) h = runLayer(config, w, layer, h, all);
  for (let r = 0; r < structure.loops; r++) {
    const active = all.filter((t) => depths[t]! > r);
    const entering = h;
    for (const layer of structure.block) h = runLayer(config, w, layer, h, active);
    if (gate) {
      const out = h;
      h = entering.map((row, t) => (depths[t]! > r ? row.map((x, i) => x + gate(r, row) * out[t]![i]!) : row));
    }
  }
  for (const layer of structure.epilogue) h = runLayer(config, w, layer, h, all);
  const head = config.tieWordEmbeddings ? w.get('model.embed_tokens.weight')! : w.get('lm_head.weight')!;
  const out = new Float64Array(ids.length * V);
  h.forEach((row, t) => out.set(matVec(head, rms(row, w.get('model.norm.weight')!, config.rmsNormEps), V), t * V));
  return out;
}

/** One Llama layer on rows `active` of h (positions = row indices); the other rows pass through. */
function runLayer(
  config: DecoderConfig,
  w: ReadonlyMap<string, Float32Array>,
  layer: number,
  h: Rows,
  active: readonly number[],
): Rows {
  const { hiddenSize: d, numHeads: H, numKvHeads: Hkv, headDim: hd, intermediateSize: ff } = config;
  const p = (m: string) => w.get(`model.layers.${layer}.${m}`)!;
  const x = active.map((t) => rms(h[t]!, p('input_layernorm.weight'), config.rmsNormEps));
  const q = x.map((row, i) =>
    rope(matVec(p('self_attn.q_proj.weight'), row, H * hd), active[i]!, H, hd, config.ropeTheta),
  );
  const k = x.map((row, i) =>
    rope(matVec(p('self_attn.k_proj.weight'), row, Hkv * hd), active[i]!, Hkv, hd, config.ropeTheta),
  );
  const v = x.map((row) => matVec(p('self_attn.v_proj.weight'), row, Hkv * hd));
  const out = h.map((row) => row.slice());
  active.forEach((t, i) => {
    const visible = active.flatMap((s, j) => (s <= t ? [j] : [])); // only tokens running this loop, causally
    const attn = attention(
      q[i]!,
      visible.map((j) => k[j]!),
      visible.map((j) => v[j]!),
      H,
      Hkv,
      hd,
    );
    const h1 = add(h[t]!, matVec(p('self_attn.o_proj.weight'), attn, d));
    const y = rms(h1, p('post_attention_layernorm.weight'), config.rmsNormEps);
    const gate = matVec(p('mlp.gate_proj.weight'), y, ff);
    const up = matVec(p('mlp.up_proj.weight'), y, ff);
    out[t] = add(
      h1,
      matVec(
        p('mlp.down_proj.weight'),
        gate.map((g, c) => (g / (1 + Math.exp(-g))) * up[c]!),
        d,
      ),
    );
  });
  return out;
}
