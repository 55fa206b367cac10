import { adaptedModules, executionSteps, type DecoderConfig } from '@recur/graph';
import type { DepthwiseLora } from '../depthwiseLora.js';
import { LoraError, type ArrayTensor } from '../init.js';
import { loraKey } from '../keys.js';
import { gateKey, scaleKey, type CompositionSpec } from './spec.js';

/**
 * The coefficients a composition of `parts` learns, at their starting values, for every executed
 * step and projection some part adapts. ScaLearn scales start at 1/n, so the composition begins as
 * the mean of its parts (our choice: it then starts where gated fusion's uniform softmax does).
 * Gates start at zero weight and bias: uniform softmax weights 1/n, or sigmoid 0.5.
 * Also the reference for the names and shapes a saved composition must hold (`checkCoefficients`).
 */
export function freshCoefficients(
  spec: CompositionSpec,
  config: DecoderConfig,
  parts: readonly DepthwiseLora[],
): Map<string, ArrayTensor> {
  if (parts.length < 2) throw new LoraError(`a composition needs at least two adapters, got ${parts.length}`);
  const out = new Map<string, ArrayTensor>();
  const put = (key: string, shape: number[], value: number) => {
    const known = out.get(key);
    if (known && known.shape.join() !== shape.join())
      throw new LoraError(`coefficient ${key} would be both [${known.shape.join(', ')}] and [${shape.join(', ')}]`);
    if (!known) out.set(key, { data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value), shape });
  };
  for (const step of executionSteps(config)) {
    for (const module of adaptedModules) {
      const shapes = parts.flatMap((lora, part) => {
        const a = lora.tensors.get(loraKey(step.unique, module, step.loop, 'A')); // [r, in]
        const b = lora.tensors.get(loraKey(step.unique, module, step.loop, 'B')); // [out, r]
        return a && b ? [{ part, inputs: a.shape[1]!, outputs: b.shape[0]! }] : [];
      });
      if (shapes.length === 0) continue;
      if (spec.method === 'gated') {
        put(gateKey(spec, step, module, 'weight'), [parts.length, shapes[0]!.inputs], 0);
        put(gateKey(spec, step, module, 'bias'), [parts.length], 0);
        continue;
      }
      for (const { part, outputs } of shapes)
        put(scaleKey(spec, part, step, module), spec.method === 'scalearn' ? [outputs] : [1], 1 / parts.length);
    }
  }
  return out;
}

/** Refuses saved coefficients that are not exactly the names and shapes this composition needs. */
export function checkCoefficients(
  expected: ReadonlyMap<string, ArrayTensor>,
  actual: ReadonlyMap<string, { readonly shape: readonly number[] }>,
  file: string,
): void {
  for (const [key, { shape }] of expected) {
    const found = actual.get(key);
    if (!found) throw new LoraError(`${file}: missing coefficient ${key} [${shape.join(', ')}]`);
    if (found.shape.join() !== shape.join())
      throw new LoraError(
        `${file}: coefficient ${key} is [${found.shape.join(', ')}] but the parts need [${shape.join(', ')}]`,
      );
  }
  for (const key of actual.keys())
    if (!expected.has(key)) throw new LoraError(`${file}: coefficient ${key} belongs to no step the parts adapt`);
}
