// The run cache the experiments share: <cache>/runs/KEY holds one run (KEY names its whole config), and a
// finished run's result.json is reused, so reruns and re-renders cost nothing.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';

/**
 * A run's cache folder and, when the run finished before, its result (`cached: true` added); otherwise
 * the folder is emptied for a fresh run (a crashed run's leftovers go) and `cached` is null.
 * @param {string} cache @param {string} key @returns {{ dir: string, cached: any }} (`cached`: the parsed result.json, as each run module types it)
 */
export function runCache(cache, key) {
  const dir = `${cache}/runs/${key}`;
  if (existsSync(`${dir}/result.json`))
    return { dir, cached: { ...JSON.parse(readFileSync(`${dir}/result.json`, 'utf8')), cached: true } };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return { dir, cached: null };
}
