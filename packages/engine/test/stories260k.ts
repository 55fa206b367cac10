import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Real weights and golden outputs live in ../shared (read-only, never copied into the repo). */
export const sharedDir = fileURLToPath(new URL('../../../../shared/', import.meta.url));
export const storiesDir = `${sharedDir}models/stories260K/`;
export const ggufPath = `${storiesDir}stories260K.gguf`;
export const hfPath = `${storiesDir}hf`;
export const corpusPath = (name: string): string => `${sharedDir}corpora/${name}`;

export function readReference<T>(name: string): T {
  return JSON.parse(readFileSync(`${storiesDir}reference/${name}`, 'utf8')) as T;
}

export interface GreedyReference {
  ids: number[];
  text: string;
}
export interface LogitsReference {
  prompt: string;
  ids: number[];
  logits: number[][];
  mean_nll: number;
}
export interface PerplexityReference {
  results: {
    file: string;
    bytes_used: number;
    num_tokens_scored: number;
    mean_nll_nats: number;
    perplexity: number;
    window_tokens_including_bos: number;
  }[];
}
