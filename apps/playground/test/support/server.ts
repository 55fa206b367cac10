import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
};

export interface StaticServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A static file server on 127.0.0.1 (a secure context, so the page gets WebGPU): URL prefixes map
 * to folders, e.g. { '/': 'apps/playground/dist', '/shared/': '../shared' }. Read-only; paths
 * outside a mapped folder are refused.
 */
export async function serveStatic(mounts: Readonly<Record<string, string>>): Promise<StaticServer> {
  const table = Object.entries(mounts)
    .sort((a, b) => b[0].length - a[0].length)
    .map(([prefix, dir]) => [prefix, resolve(dir)] as const);
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const mount = table.find(([prefix]) => path.startsWith(prefix));
    const file = mount ? normalize(join(mount[1], path.slice(mount[0].length))) : undefined;
    const target = file && existsSync(file) && statSync(file).isDirectory() ? join(file, 'index.html') : file;
    if (!mount || !target || !(target === mount[1] || target.startsWith(mount[1] + sep)) || !existsSync(target)) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[extname(target)] ?? 'application/octet-stream',
      'Content-Length': statSync(target).size,
    });
    createReadStream(target).pipe(res);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}
