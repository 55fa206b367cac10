import { beforeAll, describe, expect, it } from 'vitest';
import { adaptedModules, executionSteps, type AdaptedModule, type LayerCall } from '@recur/graph';
import { gaussianArray, initBackend, tf } from '@recur/tensor';
import {
  composedDeltaReference,
  DepthwiseLora,
  freshCoefficients,
  freshLora,
  GatedFusion,
  gateKey,
  loraKey,
  scaledLora,
  ScaLearnAdapter,
  scaleKey,
  type CompositionSpec,
  type ReferenceMix,
  type ReferencePart,
} from '../src/index.js';
import { tinyConfig } from './fixtures.js';

beforeAll(async () => {
  await initBackend();
});

const config = { ...tinyConfig(2), layerOrder: [0, 1, 0, 1] }; // recursive: 2 positions × 2 loops

/** A LoRA with non-zero B at every step (rank differs per part, so concatenation is exercised). */
function randomPart(rank: number, seed: number, scale: number): DepthwiseLora {
  const arrays = freshLora({ config, rank, seed });
  for (const [key, t] of arrays)
    if (key.includes('.lora_B.'))
      arrays.set(key, { data: gaussianArray(t.data.length, seed + key.length), shape: t.shape });
  return DepthwiseLora.fromArrays(arrays, scale);
}

/** Coefficients drawn at random (not the 1/n start), as tensors. */
function randomCoefficients(spec: CompositionSpec, parts: readonly DepthwiseLora[], seed: number) {
  const out = new Map<string, tf.Tensor>();
  let drawn = 0;
  for (const [key, { shape, data }] of freshCoefficients(spec, config, parts))
    out.set(key, tf.tensor(gaussianArray(data.length, seed + drawn++), [...shape]));
  return out;
}

const f64 = (t: tf.Tensor) => Float64Array.from(t.dataSync());

function referenceParts(parts: readonly DepthwiseLora[], call: LayerCall, module: AdaptedModule): ReferencePart[] {
  return parts.map((lora) => {
    const a = lora.tensors.get(loraKey(call.unique, module, call.loop, 'A'))!;
    const b = lora.tensors.get(loraKey(call.unique, module, call.loop, 'B'))!;
    return { a: f64(a), b: f64(b), rank: a.shape[0]!, scale: lora.scale };
  });
}

function mixFor(
  spec: CompositionSpec,
  coefficients: Map<string, tf.Tensor>,
  call: LayerCall,
  module: AdaptedModule,
  n: number,
): ReferenceMix {
  if (spec.method === 'gated')
    return {
      kind: 'gate',
      weight: f64(coefficients.get(gateKey(spec, call, module, 'weight'))!),
      bias: f64(coefficients.get(gateKey(spec, call, module, 'bias'))!),
      activation: spec.gate ?? 'softmax',
    };
  return {
    kind: 'scales',
    scales: Array.from({ length: n }, (_, p) => f64(coefficients.get(scaleKey(spec, p, call, module))!)),
  };
}

const specs: CompositionSpec[] = [
  { method: 'scalearn', shareLayers: false },
  { method: 'scalearn', shareLayers: true },
  { method: 'scalearn-uniform', shareLayers: false },
  { method: 'scalearn-uniform', shareLayers: true },
  { method: 'gated', shareLayers: false, gate: 'softmax' },
  { method: 'gated', shareLayers: true, gate: 'sigmoid' },
];

describe('adapter composition', () => {
  it.each(specs)('$method (share $shareLayers, gate $gate) matches the float64 reference at every step', (spec) => {
    const parts = [randomPart(2, 1, 0.5), randomPart(3, 2, 2), randomPart(1, 3, 1)];
    const coefficients = randomCoefficients(spec, parts, 40);
    const start = tf.memory().numTensors;
    const composed =
      spec.method === 'gated'
        ? new GatedFusion(parts, coefficients, spec)
        : new ScaLearnAdapter(parts, coefficients, spec);
    const folded = spec.method === 'gated' ? undefined : scaledLora(parts, coefficients, spec);
    for (const call of executionSteps(config)) {
      for (const module of adaptedModules) {
        const inputs = parts[0]!.tensors.get(loraKey(call.unique, module, call.loop, 'A'))!.shape[1]!;
        const outputs = parts[0]!.tensors.get(loraKey(call.unique, module, call.loop, 'B'))!.shape[0]!;
        const x = gaussianArray(3 * inputs, call.step * 7 + module.length);
        const expected = composedDeltaReference(
          Float64Array.from(x),
          { rows: 3, inputs, outputs },
          referenceParts(parts, call, module),
          mixFor(spec, coefficients, call, module, parts.length),
        );
        for (const adapter of folded ? [composed, folded] : [composed]) {
          const got = tf.tidy(() => {
            const input = tf.tensor2d(x, [3, inputs]);
            return adapter.adapt(module, call, input, tf.zeros([3, outputs]) as tf.Tensor2D).dataSync();
          });
          const worst = Math.max(...Array.from(got, (v, i) => Math.abs(v - expected[i]!)));
          expect(worst).toBeLessThan(1e-4 * Math.max(1, ...Array.from(expected, Math.abs)));
        }
      }
    }
    folded?.dispose();
    expect(tf.memory().numTensors).toBe(start);
    for (const p of parts) p.dispose();
    for (const t of coefficients.values()) t.dispose();
  });

  it('counts the coefficients each form learns', () => {
    const parts = [randomPart(2, 1, 1), randomPart(2, 2, 1)];
    const count = (spec: CompositionSpec) =>
      [...freshCoefficients(spec, config, parts).values()].reduce((n, t) => n + t.data.length, 0);
    const outputs = 8 + 4 + 4 + 8 + 12 + 12 + 8; // q k v o gate up down of tinyConfig
    expect(count({ method: 'scalearn', shareLayers: false })).toBe(2 * 4 * outputs);
    expect(count({ method: 'scalearn', shareLayers: true })).toBe(2 * outputs);
    expect(count({ method: 'scalearn-uniform', shareLayers: false })).toBe(2 * 4);
    expect(count({ method: 'scalearn-uniform', shareLayers: true })).toBe(2); // ScaLearnUniform++
    for (const p of parts) p.dispose();
  });

  it('refuses to fold a gated composition and a composition of one adapter', () => {
    const parts = [randomPart(2, 1, 1), randomPart(2, 2, 1)];
    const spec: CompositionSpec = { method: 'gated', shareLayers: false };
    expect(() => scaledLora(parts, new Map(), spec)).toThrow(/depends on the input/);
    expect(() => freshCoefficients(spec, config, parts.slice(0, 1))).toThrow(/at least two/);
    for (const p of parts) p.dispose();
  });
});
