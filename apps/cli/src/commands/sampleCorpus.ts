import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { disposeModel, sampleCorpus } from '@recur/engine';
import { checkOutput, writeOutput } from '@recur/engine/node';
import { parseNumber, UsageError } from '../errors.js';
import { progressBar } from '../progress.js';
import { openModel, printJson, type ModelOptions } from './shared.js';
import { parseSeed, samplingFlag } from './samplingFlags.js';

interface SampleCorpusCliOptions extends ModelOptions {
  readonly out?: string;
  readonly tokens?: string;
  readonly temperature: string;
  readonly topP: string;
  readonly batch: string;
  readonly maxDocTokens?: string;
  readonly seed: string;
  readonly force?: boolean;
  readonly json?: boolean;
}

/** Default document length when --max-doc-tokens is not given (cut to the model's context). */
const DEFAULT_DOC_TOKENS = 256;

export function registerSampleCorpus(program: Command): void {
  program
    .command('sample-corpus')
    .description(
      "write N tokens of a teacher model's own text as blank-line separated documents (sequence-level distillation data for `recur train --data`)",
    )
    .option('--model <path>', 'the teacher: Hugging Face folder, .safetensors or .gguf file')
    .option('--out <file>', 'text file to write (refuses to replace a file it did not write unless --force)')
    .option('--tokens <n>', 'generated tokens to write in all (BOS/EOS not counted; the last document is cut to fit)')
    .option('--temperature <t>', 'sampling temperature (0 = greedy, every document the same; at most 2)', '1')
    .option('--top-p <p>', 'nucleus sampling mass in (0, 1] (1 = off)', '1')
    .option('--batch <b>', 'documents decoded together on the batched fast path', '32')
    .option(
      '--max-doc-tokens <n>',
      `a document ends at EOS or after this many tokens (default ${DEFAULT_DOC_TOKENS}, at most the context − 1)`,
    )
    .option('--seed <n>', 'random seed: an integer in [0, 2^32 − 1]; same seed, same file', '0')
    .option(
      '--backend <name>',
      'tensor backend: wasm (default in Node; the batched fast path), cpu (one document at a time, with a warning)',
    )
    .option('--threads <n>', 'wasm compute threads (default RECUR_THREADS, else all cores)')
    .option('--force', 'replace an existing --out file that sample-corpus did not write')
    .option(
      '--json',
      'print one JSON object {path, tokens, documents, bytes, seconds, tokensPerSecond, decoder: fast|tfjs, …}',
    )
    .action(async (options: SampleCorpusCliOptions) => {
      if (!options.out) throw new UsageError('--out FILE is required');
      if (options.tokens === undefined) throw new UsageError('--tokens N is required');
      const settings = {
        tokens: parseNumber('tokens', options.tokens, { integer: true, min: 1 }),
        batch: parseNumber('batch', options.batch, { integer: true, min: 1, max: 256 }),
        temperature: samplingFlag('temperature', 'temperature', options.temperature),
        topP: samplingFlag('topP', 'top-p', options.topP),
        seed: parseSeed(options.seed),
      };
      const maxDoc =
        options.maxDocTokens === undefined
          ? undefined
          : parseNumber('max-doc-tokens', options.maxDocTokens, { integer: true, min: 1 });
      const target = {
        kind: 'file' as const,
        sources: options.model ? [options.model] : [],
        force: options.force ?? false,
      };
      await checkOutput(options.out, target); // refuse before the (slow) sampling
      const model = await openModel(options);
      const started = performance.now();
      const bar = progressBar('sampling');
      try {
        const maxDocTokens = maxDoc ?? Math.min(DEFAULT_DOC_TOKENS, model.decoder.config.maxPositionEmbeddings - 1);
        const corpus = await sampleCorpus(model, {
          ...settings,
          maxDocTokens,
          onProgress: (done, total) => bar.update(done, total),
        }).finally(() => bar.stop());
        const text = `${corpus.documents.join('\n\n')}\n`;
        await writeOutput(options.out, target, (temp) => writeFile(temp, text));
        const seconds = (performance.now() - started) / 1000;
        const summary = {
          path: options.out,
          ...settings,
          tokens: corpus.tokens,
          documents: corpus.documents.length,
          bytes: Buffer.byteLength(text),
          seconds,
          tokensPerSecond: corpus.tokens / seconds,
          maxDocTokens,
          decoder: corpus.path,
        };
        if (corpus.note) process.stderr.write(`recur: warning: ${corpus.note}\n`);
        if (options.json) return printJson(summary);
        console.log(
          `${summary.tokens.toLocaleString('en-US')} tokens in ${summary.documents} documents (${summary.bytes.toLocaleString('en-US')} bytes) written to ${summary.path} in ${seconds.toFixed(1)} s (${summary.tokensPerSecond.toFixed(0)} tokens/s)`,
        );
      } finally {
        disposeModel(model);
      }
    });
}
