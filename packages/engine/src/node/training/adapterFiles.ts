import { mkdir, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { executionSteps } from '@recur/graph';
import { MosLora, toPeftAdapter, type DepthwiseLora } from '@recur/lora';
import type { LoadedModel } from '../../model.js';
import { baseFingerprint } from '../fingerprint.js';
import { writePeftAdapter } from '../peft.js';

/**
 * Writes a trained LoRA as a standard PEFT adapter in `<out>/adapter` (PEFT layer i = executed step i,
 * see toPeftAdapter), naming its base by path and by weight fingerprint. The folder is written beside
 * and renamed into place, so a reader never sees half of it.
 */
export async function saveTrainedAdapter(
  out: string,
  base: LoadedModel,
  trained: DepthwiseLora | MosLora,
): Promise<string> {
  // a MoS adapter is written materialised: PEFT holds one A, B pair per layer, not pools
  const adapter = trained instanceof MosLora ? trained.materialise() : trained;
  const peft = toPeftAdapter(adapter, executionSteps(base.decoder.config), resolve(base.source.path));
  if (adapter !== trained) adapter.dispose();
  const dir = join(out, 'adapter');
  const temp = join(out, '.adapter.tmp');
  await rm(temp, { recursive: true, force: true });
  await mkdir(temp);
  await writePeftAdapter(temp, {
    config: { ...peft.config, recur_base_fingerprint: baseFingerprint(base) },
    tensors: peft.tensors,
  });
  await rm(dir, { recursive: true, force: true });
  await rename(temp, dir);
  return dir;
}
