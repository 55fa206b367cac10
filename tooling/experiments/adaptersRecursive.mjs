// The second base of pnpm experiment:adapters (issue 18 §4: "and on the uptrained recursive model"): stories260K
// converted as the payoff experiment converts it (middle-cycle × 2, Average init, rank-8 truncated-SVD depth-wise
// LoRA; Bae et al. 2024, "Relaxed Recursive Transformers", arXiv 2410.20672, §3) and uptrained briefly with
// distillation from stories260K on a corpus stories260K wrote itself (Kim & Rush 2016, sequence-level
// distillation). Reuses payoffModel.mjs; the result is cached under <cache>/recursive/base-…/ with a base.json
// recording what building it cost, so later invocations (and parallel slices) load it without retraining; the
// runs on it are cached inside that folder (`dir`), so a base of other settings never reuses them.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { disposeModel } from '../../packages/engine/dist/index.js';
import { loadModel } from '../../packages/engine/dist/node.js';
import { conversion, executedLayers, teacherCorpus, uptrain } from './payoffModel.mjs';

/**
 * The uptrained recursive model's folder and how it was made (built on first use, then read from base.json).
 * @param {string} source stories260K's folder
 * @param {{ cache: string, tokens: number, batch: number, seq: number, seed: number }} plan
 */
export async function recursiveBase(source, { cache, tokens, batch, seq, seed }) {
  const dir = `${cache}/base-${tokens}-b${batch}x${seq}-seed${seed}`;
  const record = `${dir}/base.json`;
  if (existsSync(record)) return { ...JSON.parse(readFileSync(record, 'utf8')), dir, cached: true };
  const teacher = await loadModel(source);
  const cpuStart = process.cpuUsage();
  try {
    const corpus = await teacherCorpus(teacher, tokens, seed, `${cache}/corpus`);
    const corpusCpu = process.cpuUsage(cpuStart);
    const run = await uptrain(teacher, { textFile: corpus.file, tokens, batch, seqLen: seq, out: `${dir}/run`, seed });
    const cpu = process.cpuUsage(cpuStart);
    const info = {
      folder: run.model.source.path,
      conversion,
      layers: executedLayers(run.model),
      uptraining: {
        tokens: run.tokens,
        steps: run.steps,
        batch,
        seq,
        seed,
        distillation:
          'from stories260K: 0.5 · T² KL at T = 2 + 0.5 · CE, exit loss on both loops, cosine to 10 % of 2e-3',
        corpusTokens: tokens,
        corpusCpuSeconds: (corpusCpu.user + corpusCpu.system) / 1e6,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
      },
    };
    disposeModel(run.model);
    writeFileSync(`${record}.tmp`, JSON.stringify(info, null, 1));
    renameSync(`${record}.tmp`, record);
    return { ...info, dir, cached: false };
  } finally {
    disposeModel(teacher);
  }
}
