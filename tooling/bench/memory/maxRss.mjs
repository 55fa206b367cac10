// Preloaded into a measured child (node --import): on exit, appends the process's peak resident
// set size (bytes, from the kernel's ru_maxrss) to the file named by RECUR_MAX_RSS_FILE.
import { appendFileSync } from 'node:fs';

const file = process.env.RECUR_MAX_RSS_FILE;
if (file) {
  process.on('exit', () => appendFileSync(file, `${process.resourceUsage().maxRSS * 1024}\n`));
}
