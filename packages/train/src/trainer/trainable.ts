import { tf } from '@recur/tensor';

/**
 * Which parameters train. 'lora': LoRA tensors (depth-wise factors, or a generated kind's generators, templates and scales) and per-loop norms only. 'shared+lora':
 * everything but the token embeddings and LM head (tied or not: the vocabulary matrix is the bulk of
 * a small model and uptraining a recursive model does not need to move it). 'all': everything.
 */
export type TrainableSelection = 'lora' | 'shared+lora' | 'all';

// depth-wise factors `.lora_A.`/`.lora_B.`; generated kinds' `.lora_scale.` scales and `.lora_hyper.` generators
const LORA_FACTOR = /\.lora_(?:[AB]|scale|hyper)\./;
const LOOP_NORM = /\.loop\d+\.weight$/;

export function isTrainable(name: string, selection: TrainableSelection): boolean {
  const adapter = LORA_FACTOR.test(name) || LOOP_NORM.test(name);
  if (selection === 'lora') return adapter;
  if (selection === 'shared+lora') return name !== 'model.embed_tokens.weight' && name !== 'lm_head.weight';
  return true;
}

/**
 * A copy of `tensors` where the selected ones are tf.Variables (the others stay the same tensors),
 * and the map of just those Variables. The variables share nothing with the originals: dispose
 * them (not the inputs) when done.
 */
export function withVariables(
  tensors: ReadonlyMap<string, tf.Tensor>,
  select: (name: string) => boolean,
): { tensors: Map<string, tf.Tensor>; variables: Map<string, tf.Variable> } {
  const out = new Map<string, tf.Tensor>();
  const variables = new Map<string, tf.Variable>();
  for (const [name, t] of tensors) {
    if (!select(name)) {
      out.set(name, t);
      continue;
    }
    // clone: own data, so disposing the input leaves the variable intact; tidy: the clone's handle goes
    // (the variable keeps the data), else every variable leaves one more tensor in tf.memory()
    const v = tf.tidy(() => tf.variable(tf.clone(t), true));
    variables.set(name, v);
    out.set(name, v);
  }
  return { tensors: out, variables };
}
