import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOneLineFailure, recur, shared } from './support/recur.js';

const hf = `${shared}models/stories260K/hf`;
const small = ['--loops', '2', '--lora-rank-attn', '2', '--lora-rank-mlp', '2'];

/** Every file under `dir` with its size and mtime: a "nothing changed" fingerprint. */
function fingerprint(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .map((name) => {
      const s = statSync(join(dir, name));
      return `${name}:${s.size}:${s.mtimeMs}`;
    });
}

describe('commands that write never replace their source, never mix, never leave half an output', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-output-'));
  const source = join(dir, 'source');
  cpSync(hf, source, { recursive: true });
  const before = fingerprint(source);

  it('convert and export refuse --out that is, or lies inside, the source they read', async () => {
    expectOneLineFailure(await recur('convert', source, '--out', source, ...small), /is the source/);
    expectOneLineFailure(
      await recur('convert', source, '--out', join(source, 'rrt'), ...small, '--force'),
      /inside the source/,
    );
    expectOneLineFailure(await recur('export', source, '--out', source, '--force'), /is the source/);
    expectOneLineFailure(
      await recur('export', join(source, 'model.safetensors'), '--out', dir, '--force'),
      /holds the source/,
    );
    expect(fingerprint(source)).toEqual(before);
  });

  it('convert refuses a non-empty folder it did not write; --force replaces it whole; its own output is replaced', async () => {
    const out = join(dir, 'mixed');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'keep me');
    expectOneLineFailure(await recur('convert', source, '--out', out, ...small), /not empty.*--force/);
    expect(readdirSync(out)).toEqual(['notes.txt']);
    expect((await recur('convert', source, '--out', out, ...small, '--force', '--json')).code).toBe(0);
    expect(readdirSync(out)).not.toContain('notes.txt'); // replaced whole, not a mixed folder
    // its own output: no --force needed
    expect((await recur('convert', source, '--out', out, ...small, '--loops', '3', '--json')).code).toBe(0);
    expect(
      (JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { recur: { loops: number } }).recur.loops,
    ).toBe(3);
    expect(readdirSync(dir).filter((name) => name.startsWith('.'))).toEqual([]); // no temporary left beside it
  });

  it("export refuses a folder that is someone else's model, and --gguf refuses to overwrite a file it did not write", async () => {
    const other = join(dir, 'other');
    cpSync(hf, other, { recursive: true });
    expectOneLineFailure(await recur('export', source, '--out', other), /not empty.*--force/);
    const text = join(dir, 'some.txt');
    writeFileSync(text, 'precious');
    expectOneLineFailure(await recur('export', source, '--gguf', '--out', text), /some\.txt.*--force/);
    expect(readFileSync(text, 'utf8')).toBe('precious');
    const gguf = join(dir, 'out.gguf');
    expect((await recur('export', source, '--gguf', '--out', gguf, '--json')).code).toBe(0);
    // its own file
    expect((await recur('export', source, '--gguf', '--out', gguf, '--dtype', 'f16', '--json')).code).toBe(0);
    expect((await recur('export', source, '--gguf', '--out', text, '--force', '--json')).code).toBe(0);
    expect(readFileSync(text).subarray(0, 4).toString()).toBe('GGUF');
    expect(readdirSync(dir).filter((name) => name.startsWith('.'))).toEqual([]);
  });

  it("export --torch writes the PyTorch folder (--json), replaces its own folder (Python's __pycache__ included), refuses others and options that do not apply", async () => {
    const other = join(dir, 'other-torch');
    cpSync(hf, other, { recursive: true });
    expectOneLineFailure(await recur('export', source, '--torch', '--out', other), /not empty.*--force/);
    expectOneLineFailure(
      await recur('export', source, '--torch', '--gguf', '--out', join(dir, 't')),
      /--gguf does not apply to --torch/,
    );
    expectOneLineFailure(
      await recur('export', source, '--torch', '--lora', 'peft', '--out', join(dir, 't')),
      /--lora does not apply to --torch/,
    );
    const out = join(dir, 'torch');
    const run = await recur('export', source, '--torch', '--out', out, '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ format: 'torch', loops: 1, router: null, tensors: 47 });
    expect(readdirSync(out).sort()).toEqual(
      [
        'config.json',
        'model.safetensors',
        'modeling_recur.py',
        'sharing_recur.py',
        'special_tokens_map.json',
        'tokenizer.json',
        'tokenizer_config.json',
        'uptrain_recur.py',
      ].filter((n) => n !== 'special_tokens_map.json' || readdirSync(hf).includes(n)),
    );
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))).toMatchObject({
      architectures: ['RecurForCausalLM'],
      auto_map: { AutoModelForCausalLM: 'modeling_recur.RecurForCausalLM' },
    });
    mkdirSync(join(out, '__pycache__'));
    expect((await recur('export', source, '--torch', '--out', out)).code).toBe(0); // its own folder
    expect(fingerprint(source)).toEqual(before);
  });

  it('the convert table keeps one kind of number per column, and the rank error says "full" is allowed', async () => {
    const run = await recur('convert', source, '--out', join(dir, 'table'), ...small);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/F32 bytes \(parameters × 4\)/);
    expect(run.stdout).toMatch(/model\.safetensors: [\d,]+ bytes written/);
    expectOneLineFailure(
      await recur('convert', source, '--out', join(dir, 'r'), '--lora-rank-attn', 'x'),
      /--lora-rank-attn must be an integer ≥ 0 or "full", got "x"/,
    );
  });
});
