// pnpm demo [MODEL] — the main job: inspect a model, score its perplexity, and generate from it.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const model = process.argv[2] ?? `${root}../shared/models/stories260K/stories260K.gguf`;
const corpus = `${root}../shared/corpora/tinystories_val/tinystories_val.txt`;
const recur = (...args) => execFileSync(process.execPath, [`${root}apps/cli/dist/recur.js`, ...args], { stdio: 'inherit' });

try {
  console.log(`== recur inspect ${model}`);
  recur('inspect', model);
  if (existsSync(corpus)) {
    console.log('\n== recur eval (first 16 KiB of the TinyStories validation slice, 256-token windows)');
    recur('eval', '--model', model, '--data', corpus, '--max-bytes', '16384', '--window', '256');
  }
  console.log('\n== recur generate (greedy)');
  recur('generate', '--model', model, '--prompt', 'Once upon a time', '--max-new-tokens', '80', '--temperature', '0');
} catch {
  process.exit(1); // the CLI has already printed its one-line reason
}
