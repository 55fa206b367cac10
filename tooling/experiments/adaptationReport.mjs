// Renders docs/results/adaptation.md from adaptation.json (written by adaptation.mjs): the header (commit,
// seeds, budgets, machine, load) and each section's body from its own module's render(result), so every
// reading is computed from the numbers. Re-render alone: `node tooling/experiments/adaptationReport.mjs [dir]`.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The sections of issue 19 in the doc's order, one module each under tooling/experiments/adaptation/. */
export const sectionNames = /** @type {const} */ (['inject', 'echo', 'dsd', 'intact', 'unix']);

/**
 * @typedef {{ name: string, title: string, run: (ctx: SectionContext) => Promise<unknown>,
 *   render: (result: never) => string }} SectionModule
 * @typedef {{ root: string, cacheDir: string, seed: number, smoke: boolean, log: (msg: string) => void,
 *   recur: (args: readonly string[]) => unknown }} SectionContext
 * @typedef {{ status: 'ok' | 'not run' | 'failed', title?: string, hash?: string, cached?: boolean,
 *   minutes?: number, cpuSeconds?: number, reason?: string, error?: string, result?: unknown, command?: string,
 *   date?: string }} SectionEntry
 * @typedef {{ commit: string, date: string, command: string, smoke: boolean, seed: number, machine: string,
 *   nproc: number, loadAverage: { before: string, after: string }, sections: Record<string, SectionEntry> }} AdaptationDoc
 */

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The module file of a section. @param {string} name */
export function sectionFile(name) {
  return `${root}tooling/experiments/adaptation/${name}.mjs`;
}

/** A section's module, or null when its file does not exist (yet). @param {string} name */
export async function loadSection(name) {
  const file = sectionFile(name);
  if (!existsSync(file)) return null;
  return /** @type {SectionModule} */ (await import(pathToFileURL(file).href));
}

/** Budgets a section states in `result.budget` (an object), as one line for the header. @param {SectionEntry} s */
function budgetLine(s) {
  const budget = /** @type {{ budget?: Record<string, unknown> } | undefined} */ (s.result)?.budget;
  if (!budget || typeof budget !== 'object') return 'budget not stated';
  return Object.entries(budget)
    .map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(', ');
}

/** @param {string} name @param {SectionEntry} s */
function runLine(name, s) {
  if (s.status === 'not run') return `- \`${name}\`: not run (${s.reason ?? 'no result'})`;
  if (s.status === 'failed') return `- \`${name}\`: **failed** — ${s.error ?? 'unknown error'}`;
  const cost = `${(s.minutes ?? 0).toFixed(1)} wall min, ${(s.cpuSeconds ?? 0).toFixed(0)} CPU-s`;
  const how = s.command ? ` by \`${s.command}\`${s.date ? ` at ${s.date.slice(0, 16).replace('T', ' ')}` : ''}` : '';
  return `- \`${name}\`: ${s.cached ? 'cached result' : 'ran'}${how} (${cost}); ${budgetLine(s)}`;
}

/** @param {string} name @param {SectionEntry} s */
async function sectionBody(name, s) {
  const heading = `## ${s.title ?? name} (\`${name}\`)`;
  if (s.status === 'not run') return `${heading}\n\nNot run: ${s.reason ?? 'no result'}.`;
  if (s.status === 'failed') return `${heading}\n\n**Failed**: ${s.error ?? 'unknown error'}`;
  const module = await loadSection(name);
  if (!module) return `${heading}\n\nIts module is missing, so the result in adaptation.json cannot be rendered.`;
  return `${heading}\n\n${module.render(/** @type {never} */ (s.result)).trim()}`;
}

/** @param {AdaptationDoc} doc */
export async function renderAdaptation(doc) {
  const names = [
    ...sectionNames,
    ...Object.keys(doc.sections).filter((n) => !sectionNames.includes(/** @type {never} */ (n))),
  ];
  const entries = names.map(
    (n) => /** @type {const} */ ([n, doc.sections[n] ?? { status: 'not run', reason: 'no entry' }]),
  );
  const bodies = await Promise.all(entries.map(([n, s]) => sectionBody(n, s)));
  return `# Adaptation: where to share, where to adapt, what to keep (issue 19)

Produced by \`${doc.command}\`${doc.smoke ? ' **in smoke mode (tiny budgets: not a result)**' : ''} at commit ${doc.commit},
${doc.date.slice(0, 16).replace('T', ' ')} UTC, on ${doc.machine} (\`nproc\` ${doc.nproc}); load average
${doc.loadAverage.before} (1/5/15 min) before and ${doc.loadAverage.after} after; seed ${doc.seed}. Raw numbers:
[adaptation.json](adaptation.json); this page is rendered from them by \`tooling/experiments/adaptationReport.mjs\`
(each section by its own module under \`tooling/experiments/adaptation/\`). CPU-seconds include the CLI runs a
section starts.

${entries.map(([n, s]) => runLine(n, s)).join('\n')}

${bodies.join('\n\n')}
`;
}

/** Writes adaptation.md next to adaptation.json in `dir`, atomically. @param {string} dir */
export async function writeAdaptationReport(dir) {
  const doc = /** @type {AdaptationDoc} */ (JSON.parse(readFileSync(`${dir}/adaptation.json`, 'utf8')));
  const md = await renderAdaptation(doc);
  writeFileSync(`${dir}/adaptation.md.tmp`, md);
  renameSync(`${dir}/adaptation.md.tmp`, `${dir}/adaptation.md`);
  return md;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[2] ?? `${root}docs/results`;
  await writeAdaptationReport(dir);
  console.log(`wrote ${dir}/adaptation.md`);
}
