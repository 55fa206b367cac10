import { defineConfig } from 'tsup';
import { packageBuild } from '../../tooling/tsup.base.js';

export default defineConfig(packageBuild({ index: 'src/index.ts' }));
