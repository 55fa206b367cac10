import { rename, rm } from 'node:fs/promises';
import { withDomainEnds } from '../domainEnds.js';
import { disposeModel } from '../model.js';
import { loadModel } from './load.js';
import { saveModel } from './save.js';

/**
 * Gives the converted model in `dir` per-domain ends `names` (identical copies of its first and last
 * layers; see domainEnds.ts): the model is rewritten whole beside `dir`, then swapped in.
 */
export async function addDomainEnds(dir: string, names: readonly string[]): Promise<void> {
  const model = await loadModel(dir);
  const next = `${dir}.ends-${process.pid}`;
  try {
    await saveModel(await withDomainEnds(model, names), next, { force: true });
  } finally {
    disposeModel(model);
  }
  await rm(dir, { recursive: true, force: true });
  await rename(next, dir);
}
