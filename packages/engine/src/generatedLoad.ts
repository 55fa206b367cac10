import type { ModelConfig } from '@recur/checkpoint';
import { executionSteps } from '@recur/graph';
import { generatedKind, isGeneratedLoraKey, type DepthwiseLora, type GeneratedLora } from '@recur/lora';

/** How a generated (hyper, scaled) LoRA is checked and made dense at load. */

const loopNorm = /_layernorm\.loop\d+\.weight$/;

/**
 * A generated LoRA's dense per-loop factors for the steps the model runs; a stored tensor of the wrong
 * shape, or factors that are not finite, are refused naming the file (the generated form is freed).
 */
export async function materialised(
  path: string,
  generated: GeneratedLora,
  config: ModelConfig,
): Promise<DepthwiseLora> {
  const kind = generated.spec.kind;
  const foreign = [...generated.tensors.keys()].find(
    (key) => !generatedKind(generated.spec)!.owns(key) && !loopNorm.test(key),
  );
  if (foreign)
    throw new Error(
      `${path}: tensor ${foreign} is not part of the ${kind} LoRA that config.json's recur.loraKind names`,
    );
  let dense: DepthwiseLora | undefined;
  try {
    dense = generated.materialise(executionSteps(config));
    // read back asynchronously: webgpu (the playground, --backend webgpu) cannot read GPU data synchronously
    for (const [key, t] of dense.tensors)
      if (!((await t.data()) as Float32Array).every(Number.isFinite)) throw new Error(`${key} is not finite`);
    return dense;
  } catch (error) {
    dense?.dispose();
    throw new Error(
      `${path}: the ${kind} LoRA (recur.loraKind) does not make per-loop factors: ${(error as Error).message}`,
    );
  }
}

/** A depth-wise model's adapter tensors; a generated kind's among them means config.json lost its recur.loraKind. */
export function checkedDepthwise(path: string, names: readonly string[]): readonly string[] {
  const generated = names.find(isGeneratedLoraKey);
  if (generated)
    throw new Error(
      `${path}: tensor ${generated} belongs to a hyper or scaled LoRA, but config.json's recur section names no loraKind`,
    );
  return names;
}
