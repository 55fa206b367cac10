// Shared by the bench scripts: run the built CLI, describe the machine, and rewrite one marked
// section of docs/benchmarks.md so each benchmark owns its own block.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = `${root}apps/cli/dist/recur.js`;

/** @param {readonly string[]} args */
export function recurJson(args) {
  const out = execFileSync(process.execPath, [cli, ...args, '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out);
}

export function machineDescription() {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, ${os.platform()} ${os.arch()}`;
}

/** The 1/5/15-minute load averages as the docs print them ("1.59 / 1.71 / 3.84"). */
/**
 * Opens a load-average window for a results json: the returned function gives { before, after }, each the 1/5/15-min
 * averages rounded to 2 decimals, `before` read now and `after` when it is called.
 */
export function loadWindow() {
  const before = loadNumbers();
  return () => ({ before, after: loadNumbers() });
}

/** The 1/5/15-min load averages as numbers, 2 decimals. */
function loadNumbers() {
  return os.loadavg().map((x) => Number(x.toFixed(2)));
}

export function loadAverage() {
  return os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');
}

/**
 * CPU-seconds (user + system) of this process and of the children it has waited for (the CLI runs it starts),
 * from /proc (proc(5): utime, stime, cutime, cstime); without /proc, this process's own.
 */
export function cpuSecondsWithChildren() {
  if (!existsSync('/proc/self/stat')) {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1e6;
  }
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0) / 100; // USER_HZ is 100 on Linux
}

/** @param {string} name @param {string} markdown */
export function recordSection(name, markdown) {
  const file = `${root}docs/benchmarks.md`;
  const begin = `<!-- bench:${name}:begin -->`;
  const end = `<!-- bench:${name}:end -->`;
  const block = `${begin}\n${markdown.trim()}\n${end}`;
  let doc = existsSync(file)
    ? readFileSync(file, 'utf8')
    : '# Benchmarks\n\nNumbers are written by the `pnpm bench:*` scripts; rerun them to refresh a section.\n';
  const at = doc.indexOf(begin);
  const stop = doc.indexOf(end);
  doc =
    at >= 0 && stop > at ? doc.slice(0, at) + block + doc.slice(stop + end.length) : `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, doc);
  console.log(`recorded in docs/benchmarks.md (${name})`);
}
