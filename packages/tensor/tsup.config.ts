import { defineConfig } from 'tsup';
import { packageBuild } from '../../tooling/tsup.base.js';

// Split chunks: index and webgpu share one kernel registry (kernels.ts), and Node's webgpu code
// (Dawn + tfjs-backend-webgpu) stays in a chunk that only `initBackend({ backend: 'webgpu' })` loads.
export default defineConfig({
  ...packageBuild({ index: 'src/index.ts', reference: 'src/reference/index.ts', webgpu: 'src/webgpu/index.ts' }),
  splitting: true,
});
