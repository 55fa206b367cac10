import { describe, expect, it } from 'vitest';
import { generatedKind, isLoraKind, loraKindFields, loraKindSpec, loraKinds, type LoraKindSpec } from '../src/index.js';

// One registry of LoRA kinds; config.json keeps the kind as a string and its settings in their own section.
describe('LoRA kinds registry', () => {
  it('names all four kinds, each with a one-line description', () => {
    expect(Object.keys(loraKinds)).toEqual(['depthwise', 'mos', 'hyper', 'scaled']);
    for (const text of Object.values(loraKinds)) expect(text).not.toMatch(/\n/);
    expect(isLoraKind('hyper')).toBe(true);
    expect(isLoraKind('wide')).toBe(false);
    expect(isLoraKind('toString')).toBe(false);
  });

  it('derives the spec from the recur section and writes it back as a string plus section', () => {
    const specs: LoraKindSpec[] = [
      { kind: 'depthwise' },
      { kind: 'mos' },
      { kind: 'hyper', hyperDim: 3 },
      { kind: 'scaled' },
    ];
    for (const spec of specs) expect(loraKindSpec(loraKindFields(spec))).toEqual(spec);
    expect(loraKindFields({ kind: 'hyper', hyperDim: 3 })).toEqual({ loraKind: 'hyper', hyper: { hyperDim: 3 } });
    expect(loraKindSpec({})).toEqual({ kind: 'depthwise' });
    expect(() => loraKindSpec({ loraKind: 'hyper' })).toThrow(/needs a hyper section/);
    expect(generatedKind({ kind: 'mos' })).toBeUndefined();
    expect(generatedKind({ kind: 'scaled' })).toBeDefined();
  });
});
