// The pure checks behind `pnpm test:pack` (tooling/pack/testPack.mjs): reading the engine README's
// example, finding the ids a run printed, and what an installed package must not carry. No processes,
// no files: tooling/test/publish.test.ts runs these on the workspace's own README and manifests.

/** A test:pack failure: its message is the one line printed before exiting non-zero. */
export class PackCheckError extends Error {
  /** @override */
  name = 'PackCheckError';
}

/**
 * The model path the README example is written with (relative to the repo root); test:pack swaps in the absolute one.
 */
export const README_MODEL_LITERAL = "'../shared/models/stories260K/stories260K.gguf'";

/**
 * @typedef {object} EngineExample
 * @property {string} source the example, with the model path replaced
 * @property {string} prompt what its greedy `generate` call continues
 * @property {number} maxNewTokens how many tokens that call generates at most
 */

/**
 * The first ```ts block of packages/engine/README.md, made runnable outside the workspace: the model
 * path becomes `modelPath`. Also reads the greedy call's prompt and length, for the CLI to repeat.
 * @param {string} readme @param {string} modelPath @returns {EngineExample}
 */
export function engineExample(readme, modelPath) {
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  if (block === undefined) throw new PackCheckError('packages/engine/README.md has no ```ts example block');
  if (!block.includes(README_MODEL_LITERAL))
    throw new PackCheckError(`packages/engine/README.md: the example no longer loads ${README_MODEL_LITERAL}`);
  const call = /generate\(model, \{ prompt: '([^']*)', maxNewTokens: (\d+), temperature: 0[,\s]/.exec(block);
  if (call === null)
    throw new PackCheckError(
      "packages/engine/README.md: the example has no greedy `generate(model, { prompt: '…', maxNewTokens: N, temperature: 0 …` call",
    );
  const source = block.replace(README_MODEL_LITERAL, JSON.stringify(modelPath));
  return { source, prompt: /** @type {string} */ (call[1]), maxNewTokens: Number(call[2]) };
}

/**
 * @typedef {object} TokenRun
 * @property {number[]} promptIds
 * @property {number[]} ids
 */

/**
 * The `{"promptIds": […], "ids": […]}` object a run printed (on a line of its own; the CLI's --json
 * object carries more fields).
 * @param {string} stdout @param {string} who names the run in the error @returns {TokenRun}
 */
export function idsFromOutput(stdout, who) {
  for (const line of stdout.split('\n').reverse()) {
    if (!line.startsWith('{"promptIds":')) continue;
    const parsed = /** @type {Partial<TokenRun>} */ (JSON.parse(line));
    if (Array.isArray(parsed.promptIds) && Array.isArray(parsed.ids))
      return { promptIds: parsed.promptIds, ids: parsed.ids };
  }
  throw new PackCheckError(`${who} printed no {"promptIds":…,"ids":…} line`);
}

/**
 * Undefined when both runs produced the same prompt and generated ids; else where they first differ.
 * @param {TokenRun} a @param {TokenRun} b @returns {string | undefined}
 */
export function tokenDifference(a, b) {
  for (const field of /** @type {const} */ (['promptIds', 'ids'])) {
    const [x, y] = [a[field], b[field]];
    const at = x.findIndex((id, i) => i < y.length && id !== y[i]);
    if (at >= 0) return `${field}[${at}]: ${x[at]} vs ${y[at]}`;
    if (x.length !== y.length) return `${field}: ${x.length} vs ${y.length} tokens`;
  }
  return undefined;
}

/** Text in built JavaScript that would point back into the workspace at run time. */
export const WORKSPACE_MARKERS = ['../../packages/', '../../apps/', '../shared/', 'workspace:'];

/**
 * Reasons an installed package.json is not what a user should get: workspace ranges, or exports
 * that name the workspace-only `source` condition (its src/ is not in the tarball).
 * @param {string} manifestText @returns {string[]}
 */
export function manifestProblems(manifestText) {
  const problems = [];
  if (manifestText.includes('workspace:')) problems.push('a workspace: dependency range');
  if (manifestText.includes('"source"')) problems.push('the workspace-only "source" export condition');
  if (manifestText.includes('"private": true')) problems.push('"private": true');
  return problems;
}
