import { describe, expect, it } from 'vitest';
import type { LoadedModel } from '../src/index.js';
import { objectiveModes, trainingModeOf, trainingModes } from '../src/node/index.js';

// The table `trainModel` and `recur train` dispatch through: which mode a run's options pick, and the
// parameters each mode trains by default (the end-to-end runs are in the train*, compose, dvpt and
// intact tests).

const adapter = { rank: 4 };
const dvpt = { prompts: 2, bottleneck: 4, share: 'none' } as const;
/** Only the fields a mode's default selection reads. */
const modelWith = (fields: Partial<Pick<LoadedModel, 'recur' | 'masa'>>) => fields as unknown as LoadedModel;

describe('training modes', () => {
  it('picks the mode a run asks for, the model itself when it asks for none, and refuses two at once', () => {
    expect(trainingModeOf({}).name).toBe('model');
    expect(trainingModeOf({ adapter }).name).toBe('adapter');
    expect(trainingModeOf({ dvpt }).name).toBe('dvpt');
    expect(() => trainingModeOf({ adapter, dvpt })).toThrow(/adapter, dvpt .*not several at once/);
    expect(trainingModes.map((mode) => mode.name).sort()).toEqual(['adapter', 'composition', 'dvpt', 'model']);
  });

  it('trains what `recur train` trained by default: shared+lora of a converted model, all of a plain or fresh one', () => {
    const byName = new Map(trainingModes.map((mode) => [mode.name, mode]));
    const converted = modelWith({ recur: {} as LoadedModel['recur'] });
    const plain = modelWith({});
    expect(byName.get('model')!.trainable(undefined, converted, false)).toBe('shared+lora');
    expect(byName.get('model')!.trainable(undefined, converted, true)).toBe('all');
    expect(byName.get('model')!.trainable(undefined, plain, false)).toBe('all');
    expect(byName.get('model')!.trainable('lora', plain, false)).toBe('lora');
    expect(byName.get('adapter')!.trainable(undefined, converted, false)).toBe('lora');
    expect(byName.get('composition')!.trainable(undefined, plain, false)).toBe('lora');
    expect(byName.get('dvpt')!.trainable('all', plain, false)).toBe('lora');
  });

  it('lists the objectives with the plain language model last (it takes every run the others do not)', () => {
    expect(objectiveModes.map((mode) => mode.name)).toEqual(['router', 'early-exit', 'language-model']);
  });
});
