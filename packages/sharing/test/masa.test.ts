import { beforeAll, describe, expect, it } from 'vitest';
import { Decoder } from '@recur/graph';
import { initBackend, tf } from '@recur/tensor';
import {
  atomsKey,
  coefficientsKey,
  derivedKey,
  MasaDictionary,
  masaFromPretrained,
  masaModules,
  parseMasaModules,
} from '../src/index.js';
import { maxAbsDiff, randomSource, tinyConfig } from './fixtures.js';

beforeAll(async () => {
  await initBackend();
});

const ids = [1, 5, 7, 2, 9, 11];

describe('masaFromPretrained (truncated SVD of the stacked layer matrices)', () => {
  it('with S = L reproduces every layer matrix to float32 rounding', () => {
    const config = tinyConfig(4);
    const source = randomSource(config, 1);
    const init = masaFromPretrained({ config, source, atoms: 4, modules: masaModules });
    const dictionary = MasaDictionary.fromArrays(init.arrays);
    const rebuilt = dictionary.materialise();
    for (const module of masaModules)
      for (let l = 0; l < 4; l++)
        expect(maxAbsDiff(rebuilt.get(derivedKey(l, module))!, source.get(derivedKey(l, module))!)).toBeLessThan(2e-6);
    for (const e of init.energy) expect(e.captured).toBeCloseTo(1, 6);
    dictionary.dispose();
  });

  it('stores S·out·in + L·S per module, and fewer atoms keep less energy (monotone in S)', () => {
    const config = tinyConfig(6);
    const source = randomSource(config, 2);
    const captured = [1, 2, 3, 6].map((atoms) => {
      const init = masaFromPretrained({ config, source, atoms, modules: ['self_attn.q_proj'] });
      expect(init.arrays.get(atomsKey('self_attn.q_proj'))!.shape).toEqual([atoms, 8, 8]);
      expect(init.arrays.get(coefficientsKey('self_attn.q_proj'))!.shape).toEqual([6, atoms]);
      return init.energy[0]!.captured;
    });
    for (let i = 1; i < captured.length; i++) expect(captured[i]!).toBeGreaterThan(captured[i - 1]!);
    expect(captured[3]).toBeCloseTo(1, 6);
  });

  it('atoms are orthonormal and coefficients are the projections (least squares)', () => {
    const config = tinyConfig(5);
    const source = randomSource(config, 3);
    const init = masaFromPretrained({ config, source, atoms: 2, modules: ['self_attn.k_proj'] });
    const atoms = init.arrays.get(atomsKey('self_attn.k_proj'))!.data; // [2, 32]
    const dot = (a: number, b: number) => {
      let sum = 0;
      for (let k = 0; k < 32; k++) sum += atoms[a * 32 + k]! * atoms[b * 32 + k]!;
      return sum;
    };
    expect(dot(0, 0)).toBeCloseTo(1, 5);
    expect(dot(1, 1)).toBeCloseTo(1, 5);
    expect(dot(0, 1)).toBeCloseTo(0, 5);
    const c = init.arrays.get(coefficientsKey('self_attn.k_proj'))!.data;
    const w3 = source.get(derivedKey(3, 'self_attn.k_proj'))!;
    let projection = 0;
    for (let k = 0; k < 32; k++) projection += w3[k]! * atoms[32 + k]!;
    expect(c[3 * 2 + 1]).toBeCloseTo(projection, 5);
  });

  it('refuses S outside 1..L with one line naming --atoms', () => {
    const config = tinyConfig(3);
    const source = randomSource(config, 4);
    expect(() => masaFromPretrained({ config, source, atoms: 4, modules: masaModules })).toThrow(
      "--atoms must be an integer in 1..3 (the model's layers), got 4",
    );
    expect(() => masaFromPretrained({ config, source, atoms: 0, modules: masaModules })).toThrow(/--atoms/);
  });
});

describe('MasaDictionary', () => {
  it("a decoder computing q, k, v, o from atoms at each use gives the materialised decoder's logits", () => {
    const config = tinyConfig(4);
    const source = randomSource(config, 5);
    const init = masaFromPretrained({ config, source, atoms: 2, modules: masaModules });
    const before = tf.memory().numTensors;
    const dictionary = MasaDictionary.fromArrays(init.arrays);
    const materialised = new Map([...source, ...dictionary.materialise()]);
    const plain = Decoder.fromArrays(config, materialised);
    const rest = new Map(
      [...plain.weights].filter(([key]) => !dictionary.keys.has(key)).map(([k, t]) => [k, tf.clone(t)]),
    );
    const derived = new Decoder(config, rest, { derived: dictionary });
    const a = plain.forward(ids);
    const b = derived.forward(ids);
    expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBeLessThan(1e-5);
    tf.dispose([a, b]);
    plain.dispose();
    derived.dispose();
    dictionary.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('counts stored and replaced parameters', () => {
    const config = tinyConfig(6);
    const init = masaFromPretrained({
      config,
      source: randomSource(config, 6),
      atoms: 2,
      modules: ['self_attn.q_proj', 'self_attn.v_proj'],
    });
    const dictionary = MasaDictionary.fromArrays(init.arrays);
    expect(dictionary.modules).toEqual(['self_attn.q_proj', 'self_attn.v_proj']);
    expect(dictionary.parameterCount).toBe(2 * 64 + 6 * 2 + 2 * 32 + 6 * 2);
    expect(dictionary.replacedCount).toBe(6 * 64 + 6 * 32);
    expect(dictionary.keys.size).toBe(12);
    dictionary.dispose();
  });
});

describe('parseMasaModules', () => {
  it('reads short names in q, k, v, o order and refuses unknown ones', () => {
    expect(parseMasaModules('all')).toEqual(masaModules);
    expect(parseMasaModules('o,q')).toEqual(['self_attn.q_proj', 'self_attn.o_proj']);
    expect(() => parseMasaModules('q,gate')).toThrow('--masa-modules: "gate" is not one of q, k, v, o (or "all")');
    expect(() => parseMasaModules('q,q')).toThrow(/twice/);
  });
});
