// experiment:adaptation §5 — InTAct ("InTAct: Interval-based Task Activation Consolidation for Continual Learning",
// 2025, arXiv 2511.17439): a recursive stories260K (middle-cycle ×3) uptrained on TinyStories, then adapted to
// Shakespeare and then WikiText in sequence, three ways at the same budget: plain fine-tuning (every weight), LoRA-only
// (the converted model's LoRA factors and per-loop norms), and InTAct (every weight, with the interval-drift penalty
// on the activation intervals recorded on the previous domains). Held-out perplexity per seen domain after each stage,
// the average over seen domains, and forgetting.
import { readFileSync } from 'node:fs';
import { convert, perplexity, split, train, writeAtomic } from './runs.mjs';

export const name = 'intact';
export const title = 'InTAct: sequential domains without forgetting';

/** @typedef {import('../adaptationReport.mjs').SectionContext} SectionContext */
/** @typedef {{ domain: string, perplexity: Record<string, number>, average: number, cpuSeconds: number, tokensPerCpuSecond: number }} Stage */
/** @typedef {{ method: string, flags: string, stages: Stage[], forgetting: Record<string, number> }} Method */
/** @typedef {{ budget: Record<string, number | string>, conversion: string, start: Stage, methods: Method[] }} IntactResult */

/** @type {readonly ('stories' | 'shakespeare' | 'wikitext')[]} */
const sequence = ['stories', 'shakespeare', 'wikitext'];

const intactWeights = [1, 100];

/** @param {boolean} smoke */
function budgetFor(smoke) {
  return smoke
    ? {
        firstSteps: 2,
        steps: 2,
        batch: 2,
        seq: 32,
        window: 32,
        trainBytes: 20_000,
        heldOutBytes: 1_500,
        intactWindows: 2,
      }
    : {
        firstSteps: 40,
        steps: 6,
        batch: 8,
        seq: 128,
        window: 128,
        trainBytes: 300_000,
        heldOutBytes: 8_000,
        intactWindows: 16,
      };
}

/**
 * The text InTAct records intervals on for stage `k`: the previous domains' training text interleaved in chunks of
 * about one window, so the first `intactWindows` windows cover every previous domain.
 * @param {SectionContext} ctx @param {string[]} files @param {number} chunk @param {number} windows
 */
function previousDomainsText(ctx, files, chunk, windows) {
  const texts = files.map((f) => readFileSync(f, 'utf8'));
  const parts = [];
  for (let i = 0; parts.length < windows * 2 * files.length; i += chunk)
    for (const t of texts) {
      const at = i % Math.max(1, t.length - chunk);
      parts.push(t.slice(at, at + chunk));
    }
  const file = `${ctx.cacheDir}/splits/intervals-${files.length}-${chunk}-${windows}.txt`;
  writeAtomic(file, parts.join('\n\n'));
  return file;
}

/** @param {SectionContext} ctx @returns {Promise<IntactResult>} */
export async function run(ctx) {
  const b = budgetFor(ctx.smoke);
  const data = {
    stories: split(ctx, 'stories', b),
    shakespeare: split(ctx, 'shakespeare', b),
    wikitext: split(ctx, 'wikitext', b),
  };
  const conversionArgs = ['--strategy', 'middle-cycle', '--loops', '3', '--init', 'average', '--norms', 'per-loop'];
  const sizes = (/** @type {number} */ steps) => [
    '--steps',
    String(steps),
    '--batch',
    String(b.batch),
    '--seq',
    String(b.seq),
    '--save-every',
    String(steps),
  ];
  const score = (/** @type {string} */ model, /** @type {number} */ seen) =>
    Object.fromEntries(sequence.slice(0, seen).map((d) => [d, perplexity(ctx, model, data[d].heldOut, b.window)]));
  const stage = (
    /** @type {string} */ domain,
    /** @type {import('./runs.mjs').TrainSummary} */ s,
    /** @type {number} */ seen,
  ) => {
    const p = score(s.modelDir, seen);
    const values = Object.values(p);
    return {
      domain,
      perplexity: p,
      average: values.reduce((a, x) => a + x, 0) / values.length,
      cpuSeconds: s.cpuSeconds,
      tokensPerCpuSecond: s.tokensPerCpuSecond,
    };
  };
  const model = convert(ctx, 'mc3', conversionArgs);
  const first = await train(ctx, 'intact-stories', [
    '--model',
    model,
    '--data',
    data.stories.train,
    ...sizes(b.firstSteps),
  ]);
  const start = stage('stories', first, 1);
  // The methods' chains train side by side (separate processes); each chain's stages run in order.
  const all = [
    { method: 'fine-tuning', flags: ['--trainable', 'all'], intact: false },
    { method: 'LoRA-only', flags: ['--trainable', 'lora'], intact: false },
    // The penalty is a mean squared drift bound, small next to the loss early in a run: two weights λ.
    ...intactWeights.map((w) => ({
      method: `InTAct λ=${w}`,
      flags: ['--trainable', 'all', '--intact-weight', String(w)],
      intact: true,
    })),
  ];
  // Smoke runs one chain per code path (LoRA-only, InTAct); plain fine-tuning is InTAct without its flag.
  const chains = (
    ctx.smoke ? all.filter((c) => c.method === 'LoRA-only' || c.method === `InTAct λ=${intactWeights[0]}`) : all
  ).map(async ({ method, flags, intact }) => {
    let from = first.modelDir;
    /** @type {Stage[]} */
    const stages = [start];
    for (const [index, domain] of sequence.slice(1).entries()) {
      const k = index + 1;
      const previous = sequence.slice(0, k).map((d) => data[d].train);
      const intervals =
        k === 1 ? data.stories.train : previousDomainsText(ctx, previous, (b.seq + 1) * 4, b.intactWindows);
      const extra = intact ? ['--intact-from', intervals, '--intact-windows', String(b.intactWindows)] : [];
      const label = `intact-${method}-${domain}`.replace(/[^a-zA-Z0-9-]/g, '');
      const s = await train(ctx, label, [
        '--model',
        from,
        '--data',
        data[domain].train,
        ...flags,
        ...extra,
        ...sizes(b.steps),
      ]);
      stages.push(stage(domain, s, k + 1));
      ctx.log(`${method} after ${domain}: ${JSON.stringify(stages.at(-1)?.perplexity)}`);
      from = s.modelDir;
    }
    return {
      method,
      flags: [...flags, ...(intact ? ['--intact-from PREVIOUS'] : [])].join(' '),
      stages,
      forgetting: forgetting(stages),
    };
  });
  const methods = await Promise.all(chains);
  return {
    budget: { ...b, firstTokens: b.firstSteps * b.batch * b.seq, tokensPerStage: b.steps * b.batch * b.seq },
    conversion: `recur convert stories260K ${conversionArgs.join(' ')}`,
    start,
    methods,
  };
}

/** Per domain: final perplexity minus the lowest it had at an earlier stage (positive = forgotten). @param {Stage[]} stages */
function forgetting(stages) {
  const last = /** @type {Stage} */ (stages.at(-1));
  return Object.fromEntries(
    Object.keys(last.perplexity)
      .filter((d) => d !== last.domain)
      .map((d) => {
        const earlier = stages.slice(0, -1).flatMap((s) => s.perplexity[d] ?? []);
        return [d, (last.perplexity[d] ?? Number.NaN) - Math.min(...earlier)];
      }),
  );
}

const fmt = (/** @type {number | undefined} */ x) => (x === undefined ? '—' : x.toFixed(2));
const mean = (/** @type {number[]} */ xs) => xs.reduce((a, x) => a + x, 0) / xs.length;

/** @param {IntactResult} r */
export function render(r) {
  const rows = r.methods.flatMap((m) =>
    m.stages
      .slice(1)
      .map(
        (s) =>
          `| ${m.method} | after ${s.domain} | ${sequence.map((d) => fmt(s.perplexity[d])).join(' | ')} | ${fmt(s.average)} | ${s.tokensPerCpuSecond.toFixed(0)} |`,
      ),
  );
  const final = r.methods.map((m) => ({
    m,
    avg: /** @type {Stage} */ (m.stages.at(-1)).average,
    forget: mean(Object.values(m.forgetting)),
  }));
  const byAvg = [...final].sort((a, b) => a.avg - b.avg);
  const byForget = [...final].sort((a, b) => a.forget - b.forget);
  const plain = final.find((f) => f.m.method === 'fine-tuning');
  const readings = [
    `Lowest final average perplexity over the three seen domains: ${byAvg.map((f) => `${f.m.method} ${fmt(f.avg)}`).join(' ≤ ')}.`,
    `Least forgetting (mean over TinyStories and Shakespeare of final − best earlier perplexity): ${byForget.map((f) => `${f.m.method} ${fmt(f.forget)}`).join(' ≤ ')}.`,
  ];
  for (const intact of final.filter((f) => f.m.method.startsWith('InTAct')))
    if (plain)
      readings.push(
        `${intact.m.method} against plain fine-tuning: forgetting ${fmt(intact.forget)} vs ${fmt(plain.forget)} (${intact.forget < plain.forget ? 'less' : 'not less'}); plasticity, final WikiText perplexity ${fmt(intact.m.stages.at(-1)?.perplexity.wikitext)} vs ${fmt(plain.m.stages.at(-1)?.perplexity.wikitext)}.`,
      );
  const forgetRows = r.methods.map(
    (m) =>
      `| ${m.method} | ${Object.entries(m.forgetting)
        .map(([d, v]) => `${d} ${v >= 0 ? '+' : ''}${fmt(v)}`)
        .join(', ')} |`,
  );
  return `Start: \`${r.conversion}\`, uptrained on TinyStories (${r.budget.firstTokens} tokens, shared by all methods): held-out
perplexity ${fmt(r.start.perplexity.stories)}. Then Shakespeare, then WikiText, ${r.budget.tokensPerStage} tokens each (${r.budget.steps} steps × ${r.budget.batch} × ${r.budget.seq}),
every method the same budget. InTAct records intervals on ${r.budget.intactWindows} windows of the previous domains' training
text (TinyStories before Shakespeare; TinyStories and Shakespeare interleaved before WikiText) with the model about to
train, weight λ as named. Held-out: the last ${r.budget.heldOutBytes} bytes of documents of each corpus, never trained on (window ${r.budget.window}).

| method | stage | TinyStories | Shakespeare | WikiText | average over seen | tokens / CPU-s |
|---|---|---|---|---|---|---|
${rows.join('\n')}

Forgetting = final perplexity − lowest perplexity at an earlier stage (positive: forgotten):

| method | forgetting per domain |
|---|---|
${forgetRows.join('\n')}

${readings.map((s) => `- ${s}`).join('\n')}`;
}
