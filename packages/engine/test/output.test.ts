import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OutputError, writeOutput } from '../src/node/output.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'recur-output-'));
const writeDir = (files: Record<string, string>) => async (temp: string) => {
  for (const [name, text] of Object.entries(files)) await writeFile(join(temp, name), text);
  return temp;
};

describe('writeOutput: every command that writes', () => {
  it('writes a folder through a temporary sibling and leaves nothing else behind', async () => {
    const root = fresh();
    const out = join(root, 'model');
    const temp = await writeOutput(out, { kind: 'dir' }, writeDir({ 'a.txt': 'a' }));
    expect(temp).not.toBe(out);
    expect(readFileSync(join(out, 'a.txt'), 'utf8')).toBe('a');
    expect(readdirSync(root)).toEqual(['model']);
  });

  it('a failed write leaves the old output untouched and no temporary folder', async () => {
    const root = fresh();
    const out = join(root, 'model');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'old');
    const failing = writeOutput(out, { kind: 'dir', force: true }, async (temp) => {
      await writeFile(join(temp, 'half.txt'), 'half');
      throw new Error('disk full');
    });
    await expect(failing).rejects.toThrow(/disk full/);
    expect(readdirSync(out)).toEqual(['keep.txt']);
    expect(readdirSync(root)).toEqual(['model']);
  });

  it('refuses to write into, inside or around a source it reads (also through a symlink)', async () => {
    const root = fresh();
    const source = join(root, 'src');
    mkdirSync(source);
    writeFileSync(join(source, 'config.json'), '{}');
    symlinkSync(source, join(root, 'link'));
    for (const out of [source, join(root, 'link'), join(source, 'sub'), root]) {
      const attempt = writeOutput(out, { kind: 'dir', sources: [source], force: true }, writeDir({ 'x.txt': 'x' }));
      await expect(attempt).rejects.toThrow(OutputError);
      await expect(attempt).rejects.toThrow(/source/);
    }
    expect(readdirSync(source)).toEqual(['config.json']);
  });

  it('refuses a non-empty folder it did not write unless forced, then replaces it whole', async () => {
    const root = fresh();
    const out = join(root, 'mine');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'precious');
    await expect(writeOutput(out, { kind: 'dir' }, writeDir({ 'config.json': '{}' }))).rejects.toThrow(
      /not empty.*--force/,
    );
    expect(readdirSync(out)).toEqual(['notes.txt']);
    await writeOutput(out, { kind: 'dir', isOwn: async () => false, force: true }, writeDir({ 'config.json': '{}' }));
    expect(readdirSync(out)).toEqual(['config.json']); // replaced, not mixed
    await writeOutput(out, { kind: 'dir', isOwn: async () => true }, writeDir({ 'model.bin': '1' }));
    expect(readdirSync(out)).toEqual(['model.bin']); // its own output is replaced without --force
  });

  it('refuses to overwrite a file it did not write unless forced', async () => {
    const root = fresh();
    const out = join(root, 'some.txt');
    writeFileSync(out, 'precious');
    const writeFileOut = (text: string) => async (temp: string) => writeFile(temp, text);
    await expect(writeOutput(out, { kind: 'file' }, writeFileOut('gguf'))).rejects.toThrow(/some\.txt.*--force/);
    expect(readFileSync(out, 'utf8')).toBe('precious');
    await writeOutput(out, { kind: 'file', force: true }, writeFileOut('gguf'));
    expect(readFileSync(out, 'utf8')).toBe('gguf');
    expect(readdirSync(root)).toEqual(['some.txt']);
    await expect(writeOutput(root, { kind: 'file', force: true }, writeFileOut('x'))).rejects.toThrow(/is a folder/);
  });
});
