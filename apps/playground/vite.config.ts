import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

const require = createRequire(import.meta.url);

/** tfjs's wasm binaries, served from this origin under wasm/ (the page fetches nothing from elsewhere). */
function tfjsWasmBinaries(): Plugin {
  const dir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm')); // …/dist
  const binaries = readdirSync(dir).filter((name) => name.endsWith('.wasm'));
  return {
    name: 'recur-tfjs-wasm',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const name = req.url?.match(/^\/wasm\/([\w.-]+\.wasm)$/)?.[1];
        if (!name || !binaries.includes(name)) return next();
        res.setHeader('Content-Type', 'application/wasm');
        res.end(readFileSync(join(dir, name)));
      });
    },
    generateBundle() {
      for (const name of binaries) this.emitFile({ type: 'asset', fileName: `wasm/${name}`, source: readFileSync(join(dir, name)) });
    },
  };
}

export default defineConfig({
  base: './',
  plugins: [tfjsWasmBinaries()],
  resolve: { conditions: ['source', 'module', 'browser', 'import', 'default'] },
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      input: { main: 'index.html', kernels: 'kernels.html', bench: 'bench.html' },
      // @recur/tensor reaches node: modules only through dynamic imports behind its Node checks; the browser never runs them.
      onwarn(warning, warn) {
        if (warning.message.includes('externalized for browser compatibility')) return;
        warn(warning);
      },
    },
  },
});
