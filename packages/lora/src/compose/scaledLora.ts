import { adaptedModules, type AdaptedModule } from '@recur/graph';
import { tf } from '@recur/tensor';
import { sumLoras } from '../compose.js';
import { DepthwiseLora } from '../depthwiseLora.js';
import { LoraError } from '../init.js';
import { isLinearComposition, scaleKey, type CompositionSpec } from './spec.js';

const FACTOR = /^model\.layers\.(\d+)\.(.+)\.lora_A\.loop(\d+)\.weight$/;

/**
 * A ScaLearn composition folded into one plain LoRA, exactly: sᵢ ⊙ (scaleᵢ·B·A·x) = (diag(sᵢ)·scaleᵢ·B)·A·x,
 * so a per-output-row scale folds into B's rows (a uniform one into all of B), and the scaled parts
 * then sum as a rank concatenation (sumLoras). Every executor (tfjs, fast path, merge, PEFT export)
 * runs the result unchanged. Gated fusion depends on the input and is refused.
 * The parts and coefficients stay with their owner; the result owns new tensors.
 */
export function scaledLora(
  parts: readonly DepthwiseLora[],
  coefficients: ReadonlyMap<string, tf.Tensor>,
  spec: CompositionSpec,
): DepthwiseLora {
  if (!isLinearComposition(spec.method))
    throw new LoraError(`a ${spec.method} composition depends on the input and cannot fold into one LoRA`);
  const scaled = parts.map((lora, part) => scaledPart(lora, part, coefficients, spec));
  try {
    return sumLoras(scaled);
  } finally {
    for (const lora of scaled) lora.dispose();
  }
}

function scaledPart(
  lora: DepthwiseLora,
  part: number,
  coefficients: ReadonlyMap<string, tf.Tensor>,
  spec: CompositionSpec,
): DepthwiseLora {
  const out = new Map<string, tf.Tensor>();
  for (const [key, tensor] of lora.tensors) {
    const match = FACTOR.exec(key);
    if (!match) {
      if (!key.includes('.lora_B.')) out.set(key, tf.clone(tensor)); // per-loop norms pass through
      continue;
    }
    const module = adaptedModules.find((m) => m === match[2]) as AdaptedModule;
    const step = { unique: Number(match[1]), loop: Number(match[3]) };
    const bKey = key.replace('.lora_A.', '.lora_B.');
    const b = lora.tensors.get(bKey); // [out, r]
    const scale = coefficients.get(scaleKey(spec, part, step, module)); // [out] or [1]
    if (!b) throw new LoraError(`adapter tensor ${key} has no matching ${bKey}`);
    if (!scale) throw new LoraError(`composition has no coefficient ${scaleKey(spec, part, step, module)}`);
    out.set(key, tf.clone(tensor));
    out.set(
      bKey,
      tf.tidy(() => tf.mul(tf.mul(b, lora.scale), tf.reshape(scale, [-1, 1]))), // [out, r]·[out|1, 1]
    );
  }
  return new DepthwiseLora(out, 1);
}
