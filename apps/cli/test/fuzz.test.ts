import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  addToHeaderLength,
  flipByte,
  ggufLayout,
  ggufU32Field,
  int,
  pick,
  poisonFloat,
  prng,
  safetensorsParts,
  withHeader,
  type Random,
} from './support/mutations.js';
import { recur, shared, type Run } from './support/recur.js';

/**
 * CLI-level fuzz (issue 13): mutated copies of the real stories260K checkpoint go through
 * `recur inspect --json` and `recur generate --json`. The rule for every case and command:
 *
 *   exit 1 with exactly one `recur: …` line on stderr that names the file at fault, no stack,
 *   nothing on stdout — or exit 0 with output identical to the unmutated model's.
 *   Never a silent success with different output.
 *
 * Mutations are aimed at what a loader can and must check — headers, metadata, structure, and
 * weights made non-finite or ≥ 2^64. A finite change of a weight value (or of a tokenizer string,
 * or of a non-structural config value such as rope_theta) is a legitimately different model that
 * no format lets a loader detect, so none is generated. Deterministic: seeded, 30 cases, two
 * child processes at a time (~40 s on 2 cores). CLI_FUZZ_CASES and FUZZ_SEED widen a run.
 */

const stories = `${shared}models/stories260K/`;
const seed = Number(process.env.FUZZ_SEED ?? 13);
const casesPerFormat = Number(process.env.CLI_FUZZ_CASES ?? 15);

interface Case {
  readonly name: string;
  /** The mutated files, by name inside the model folder. */
  readonly files: Record<string, Uint8Array>;
}

const text = (s: string) => new TextEncoder().encode(s);

function safetensorsCase(random: Random, i: number): Case {
  const weights = new Uint8Array(readFileSync(`${stories}hf/model.safetensors`));
  const config = JSON.parse(readFileSync(`${stories}hf/config.json`, 'utf8')) as Record<string, unknown>;
  const { header, dataStart } = safetensorsParts(weights);
  const names = Object.keys(header).filter((n) => n !== '__metadata__');
  const tensor = pick(random, names);
  const kinds = [
    'header-length',
    'header-byte',
    'dtype',
    'shape',
    'truncate',
    'nan',
    'exponent',
    'config-layers',
    'config-shape',
    'config-syntax',
  ] as const;
  const kind = kinds[i % kinds.length]!;
  const weightsCase = (bytes: Uint8Array, what: string): Case => ({
    name: `safetensors ${kind} ${what}`,
    files: { 'model.safetensors': bytes },
  });
  switch (kind) {
    case 'header-length': {
      const delta = pick(random, [-1, 1, -8, 8]);
      return weightsCase(addToHeaderLength(weights, delta), `${delta}`);
    }
    case 'header-byte':
      return weightsCase(flipByte(weights, random, 8, dataStart), '');
    case 'dtype': {
      const dtype = pick(random, ['F16', 'BF16', 'F64', 'I32', 'U8']);
      return weightsCase(
        withHeader(weights, { ...header, [tensor]: { ...header[tensor], dtype } }),
        `${tensor} → ${dtype}`,
      );
    }
    case 'shape': {
      const shape = header[tensor]!.shape as number[];
      const edits = [
        [...shape].reverse(),
        [shape.reduce((a, b) => a * b, 1)],
        [...shape.slice(0, -1), shape[shape.length - 1]! - 1],
        [1, ...shape],
      ];
      const edited = pick(random, edits);
      return weightsCase(
        withHeader(weights, { ...header, [tensor]: { ...header[tensor], shape: edited } }),
        `${tensor} → [${edited.join(', ')}]`,
      );
    }
    case 'truncate':
      return weightsCase(weights.slice(0, int(random, weights.byteLength)), '');
    case 'nan':
    case 'exponent':
      return weightsCase(poisonFloat(weights, random, dataStart, weights.byteLength, kind), '');
    case 'config-layers': {
      const layers = pick(random, [1, 3, 4, 6, 0, -1, '5', 5.5]);
      return {
        name: `config num_hidden_layers ${JSON.stringify(layers)}`,
        files: { 'config.json': text(JSON.stringify({ ...config, num_hidden_layers: layers })) },
      };
    }
    case 'config-shape': {
      const field = pick(random, [
        'hidden_size',
        'intermediate_size',
        'vocab_size',
        'num_key_value_heads',
        'num_attention_heads',
        'head_dim',
        'tie_word_embeddings',
      ]);
      const value = field === 'tie_word_embeddings' ? false : pick(random, [1, 2, 32, 128, 171, 511]);
      return {
        name: `config ${field} ${JSON.stringify(value)}`,
        files: { 'config.json': text(JSON.stringify({ ...config, [field]: value })) },
      };
    }
    case 'config-syntax': {
      const json = JSON.stringify(config);
      return { name: 'config truncated JSON', files: { 'config.json': text(json.slice(0, int(random, json.length))) } };
    }
  }
}

function ggufCase(random: Random, i: number): Case {
  const file = new Uint8Array(readFileSync(`${stories}stories260K.gguf`));
  const layout = ggufLayout(file);
  const kinds = ['info-byte', 'type', 'structural', 'counts', 'truncate', 'nan', 'exponent'] as const;
  const kind = kinds[i % kinds.length]!;
  const done = (bytes: Uint8Array, what = ''): Case => ({
    name: `gguf ${kind} ${what}`,
    files: { 'model.gguf': bytes },
  });
  switch (kind) {
    case 'info-byte':
      return done(flipByte(file, random, layout.infoStart, layout.infoEnd));
    case 'type': {
      const out = file.slice();
      const type = pick(random, [1, 8, 30, 2, 26]); // F16, Q8_0, BF16, Q4_0, I32
      new DataView(out.buffer).setUint32(pick(random, layout.typeFields), type, true);
      return done(out, `→ ${type}`);
    }
    case 'structural': {
      const key = pick(random, [
        'llama.block_count',
        'llama.embedding_length',
        'llama.feed_forward_length',
        'llama.attention.head_count',
        'llama.rope.dimension_count',
      ]);
      const out = file.slice();
      const view = new DataView(out.buffer);
      const at = ggufU32Field(file, key);
      const value = pick(random, [0, 1, 4, 6, 2 ** 31, view.getUint32(at, true) * 2]);
      view.setUint32(at, value, true);
      return done(out, `${key} = ${value}`);
    }
    case 'counts': {
      const out = file.slice();
      const view = new DataView(out.buffer);
      const at = pick(random, [8, 16]);
      view.setBigUint64(at, view.getBigUint64(at, true) + BigInt(pick(random, [-1, 1, 2 ** 20])), true);
      return done(out, `${at === 8 ? 'tensors' : 'metadata'}`);
    }
    case 'truncate':
      return done(file.slice(0, int(random, file.byteLength)));
    case 'nan':
    case 'exponent':
      return done(poisonFloat(file, random, layout.dataStart, file.byteLength, kind));
  }
}

/** The outputs compared with the unmutated model's: generated tokens and text; inspect's whole JSON but the path. */
function comparable(command: 'inspect' | 'generate', run: Run, dir: string): string {
  if (command === 'generate') {
    const out = JSON.parse(run.stdout) as { promptIds: number[]; ids: number[]; text: string };
    return JSON.stringify([out.promptIds, out.ids, out.text]);
  }
  return run.stdout.split(dir).join('<dir>');
}

const args = (command: 'inspect' | 'generate', model: string): string[] =>
  command === 'inspect'
    ? ['inspect', model, '--json']
    : ['generate', '--model', model, '--prompt', 'Once', '--max-new-tokens', '6', '--temperature', '0', '--json'];

/** Runs `work` over `items` two at a time (the machine has two cores). */
async function pool<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all([worker(), worker()]);
}

function materialise(root: string, base: 'hf' | 'gguf', c: Case, index: number): { dir: string; model: string } {
  const dir = join(root, `case-${index}`);
  if (base === 'hf') cpSync(`${stories}hf`, dir, { recursive: true });
  else mkdirSync(dir, { recursive: true });
  if (base === 'gguf' && !c.files['model.gguf'])
    writeFileSync(join(dir, 'model.gguf'), readFileSync(`${stories}stories260K.gguf`));
  for (const [name, bytes] of Object.entries(c.files)) writeFileSync(join(dir, name), bytes);
  return { dir, model: base === 'hf' ? dir : join(dir, 'model.gguf') };
}

describe('CLI fuzz: a mutated checkpoint is refused in one line or behaves exactly like the original', () => {
  for (const base of ['hf', 'gguf'] as const) {
    it(`${casesPerFormat} seeded mutations of stories260K (${base}) through inspect and generate`, async () => {
      const root = mkdtempSync(join(tmpdir(), `recur-cli-fuzz-${base}-`));
      const random = prng(seed + (base === 'hf' ? 0 : 1000));
      const cases = Array.from({ length: casesPerFormat }, (_, i) =>
        base === 'hf' ? safetensorsCase(random, i) : ggufCase(random, i),
      );
      const original = materialise(root, base, { name: 'original', files: {} }, -1);
      const expected = {
        inspect: comparable('inspect', await recur(...args('inspect', original.model)), original.dir),
        generate: comparable('generate', await recur(...args('generate', original.model)), original.dir),
      };
      const silent: string[] = [];
      const tally = { refused: 0, identical: 0 };
      await pool([...cases.entries()], async ([index, c]) => {
        const { dir, model } = materialise(root, base, c, index);
        for (const command of ['inspect', 'generate'] as const) {
          const run = await recur(...args(command, model));
          const label = `#${index} ${c.name} (${command})`;
          if (run.code === 0) {
            if (comparable(command, run, dir) === expected[command]) tally.identical++;
            else silent.push(`${label}: exit 0 with different output`);
            continue;
          }
          const lines = run.stderr.trim().split('\n');
          const named = Object.keys(c.files).some((f) => lines[0]?.includes(f)) || lines[0]?.includes(dir);
          if (run.code !== 1 || lines.length !== 1 || !lines[0]!.startsWith('recur: ') || !named || run.stdout !== '') {
            silent.push(`${label}: exit ${run.code}, stderr ${JSON.stringify(run.stderr.slice(0, 300))}`);
          } else tally.refused++;
        }
      });
      if (process.env.FUZZ_VERBOSE) console.log(base, tally);
      expect(silent).toEqual([]);
      expect(tally.refused).toBeGreaterThan(casesPerFormat); // most mutations must be caught, not all harmless
    }, 120_000);
  }
});
