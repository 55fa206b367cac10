import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { shared } from './recur.js';

/** The data the CLI tests share, read-only in ../shared: stories260K as GGUF and as a Hugging Face folder. */
export const stories260K = {
  dir: `${shared}models/stories260K/`,
  gguf: `${shared}models/stories260K/stories260K.gguf`,
  hf: `${shared}models/stories260K/hf`,
} as const;

/** The corpora in ../shared/corpora. */
export const corpora = {
  tinystories: `${shared}corpora/tinystories_val/tinystories_val.txt`,
  shakespeare: `${shared}corpora/tinyshakespeare/input.txt`,
} as const;

/**
 * A fresh temporary folder (never in the repo or ../shared), removed with everything in it once the
 * tests of the suite it was made in have run (vitest's afterAll of the file or describe calling it).
 */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes the first `chars` characters of `corpus` to `path` (short tokenizing and held-out evaluations); returns `path`. */
export function corpusSlice(path: string, corpus: string, chars: number): string {
  writeFileSync(path, readFileSync(corpus, 'utf8').slice(0, chars));
  return path;
}

/**
 * `recur train`'s flags for a few tiny steps: batch 2 of 32 tokens, no periodic evaluation (the held-out
 * score at the end still runs); `data` first when given.
 */
export function trainBudget(options: { data?: string; steps: number; lr: number }): string[] {
  const data = options.data === undefined ? [] : ['--data', options.data];
  return [
    ...data,
    '--steps',
    String(options.steps),
    '--batch',
    '2',
    '--seq',
    '32',
    '--lr',
    String(options.lr),
    '--eval-every',
    '0',
  ];
}

/**
 * A Llama config.json small enough to train from scratch in a test (d 32, 2 layers, 4 heads, vocab 300,
 * 128 positions); `fields` add or replace keys.
 */
export function tinyLlamaConfig(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model_type: 'llama',
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    vocab_size: 300,
    max_position_embeddings: 128,
    ...fields,
  };
}
