import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './page.js';

/** One folder `recur convert` wrote with a way of sharing, and the CLI's greedy run of it (fused wasm path). */
export interface SharingFolder {
  readonly kind: string;
  /** config.json, model.safetensors, tokenizer.json: what the file picker is given. */
  readonly files: string[];
  /** BOS and the greedy tokens after it. */
  readonly ids: number[];
}

const cli = `${repoRoot}apps/cli/dist/recur.js`;
const looped = ['--loops', '2', '--lora-rank-attn', '4', '--lora-rank-mlp', '4', '--norms', 'per-loop'];
const convertFlags: Record<string, string[]> = {
  mos: [...looped, '--lora-kind', 'mos', '--mos-pool', '16'],
  hyper: [...looped, '--lora-kind', 'hyper', '--hyper-dim', '2'],
  scaled: [...looped, '--lora-kind', 'scaled'],
  masa: ['--sharing', 'masa', '--atoms', '2'],
};

/** The ways of sharing a folder can hold (issue 17): MoS, hyper and scaled LoRA, MASA. */
export const sharingKinds = Object.keys(convertFlags);

let made: Map<string, SharingFolder> | undefined;

/**
 * A stories260K folder of one way of sharing, converted by the built CLI into a temp folder (never the
 * repo), with `tokens` greedy tokens from `recur generate`. All kinds are made on the first call, once.
 */
export function sharingFolder(hfDir: string, kind: string, tokens: number): SharingFolder {
  made ??= makeSharingFolders(hfDir, tokens);
  const folder = made.get(kind);
  if (!folder) throw new Error(`no sharing folder of kind ${kind}: one of ${sharingKinds.join(', ')}`);
  return folder;
}

function makeSharingFolders(hfDir: string, tokens: number): Map<string, SharingFolder> {
  const dir = mkdtempSync(join(tmpdir(), 'recur-e2e-sharing-'));
  const folders = new Map<string, SharingFolder>();
  for (const [kind, flags] of Object.entries(convertFlags)) {
    const out = join(dir, kind);
    execFileSync('node', [cli, 'convert', hfDir, '--out', out, ...flags, '--json'], { stdio: 'pipe' });
    const greedy = ['generate', '--model', out, '--max-new-tokens', String(tokens), '--temperature', '0'];
    const run = JSON.parse(execFileSync('node', [cli, ...greedy, '--json'], { encoding: 'utf8' })) as {
      promptIds: number[];
      ids: number[];
    };
    folders.set(kind, {
      kind,
      files: ['config.json', 'model.safetensors', 'tokenizer.json'].map((n) => join(out, n)),
      ids: [...run.promptIds, ...run.ids],
    });
  }
  return folders;
}
