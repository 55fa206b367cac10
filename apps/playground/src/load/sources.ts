import { blobSource, bytesSource, type ByteSource } from '@recur/checkpoint';

/** The files of one model as the page received them, and what to call it. */
export interface ModelFiles {
  readonly label: string;
  readonly sources: ByteSource[];
}

/** Files from a file picker, a folder picker or a drop: each keeps its relative path as its name. */
export function filesFromList(files: readonly File[]): ModelFiles {
  if (files.length === 0) throw new Error('no files were given: pick a .gguf file or a model folder');
  const named = files.map((f) => ({ file: f, name: relativeName(f) }));
  const label = files.length === 1 ? named[0]!.name : (named[0]!.name.split('/')[0] ?? 'model folder');
  return { label, sources: named.map(({ file, name }) => blobSource(file, name)) };
}

/** Everything dropped: files, and the files inside dropped folders (recursively). */
export async function filesFromDrop(transfer: DataTransfer): Promise<ModelFiles> {
  const entries = Array.from(transfer.items)
    .map((item) => item.webkitGetAsEntry())
    .filter((e): e is FileSystemEntry => e !== null);
  if (entries.length === 0) return filesFromList(Array.from(transfer.files));
  const files: File[] = [];
  for (const entry of entries) await collect(entry, files);
  return filesFromList(files);
}

async function collect(entry: FileSystemEntry, out: File[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push(new File([file], entry.fullPath.replace(/^\//, ''), { type: file.type }));
    return;
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return;
    for (const child of batch) await collect(child, out);
  }
}

function relativeName(file: File): string {
  return file.webkitRelativePath !== '' ? file.webkitRelativePath : file.name;
}

const folderFiles = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'] as const;
const optionalFiles = new Set<string>(['tokenizer_config.json']);

/**
 * A model from this page's own origin: a `.gguf` URL, or a folder URL ending in `/` holding
 * config.json, model.safetensors and tokenizer.json. Other origins are refused: nothing leaves the page.
 */
export async function filesFromUrl(url: string, onProgress?: (fraction: number) => void): Promise<ModelFiles> {
  const target = new URL(url, location.href);
  if (target.origin !== location.origin)
    throw new Error(`${url}: only same-origin URLs are loaded (this page never contacts another site)`);
  if (target.pathname.endsWith('.gguf'))
    return { label: target.pathname, sources: [await fetchSource(target, true, onProgress)] };
  if (!target.pathname.endsWith('/')) throw new Error(`${url}: expected a .gguf file or a folder URL ending in /`);
  const sources: ByteSource[] = [];
  for (const [i, name] of folderFiles.entries()) {
    const source = await fetchSource(new URL(name, target), !optionalFiles.has(name), (f) =>
      onProgress?.((i + f) / folderFiles.length),
    );
    if (source) sources.push(source);
  }
  return { label: target.pathname, sources };
}

async function fetchSource(url: URL, required: true, onProgress?: (fraction: number) => void): Promise<ByteSource>;
async function fetchSource(
  url: URL,
  required: boolean,
  onProgress?: (fraction: number) => void,
): Promise<ByteSource | undefined>;
async function fetchSource(
  url: URL,
  required: boolean,
  onProgress?: (fraction: number) => void,
): Promise<ByteSource | undefined> {
  const response = await fetch(url, { credentials: 'same-origin' });
  if (!response.ok) {
    if (!required && response.status === 404) return undefined;
    throw new Error(`${url.pathname}: the server answered ${response.status} ${response.statusText}`);
  }
  const bytes = await readBody(response, onProgress);
  return bytesSource(bytes, url.pathname);
}

async function readBody(response: Response, onProgress?: (fraction: number) => void): Promise<Uint8Array> {
  const total = Number(response.headers.get('Content-Length') ?? 0);
  if (!response.body || !total) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.byteLength;
    onProgress?.(Math.min(1, received / total));
  }
  const out = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
