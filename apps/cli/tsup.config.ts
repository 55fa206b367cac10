import { defineConfig } from 'tsup';
import { packageBuild } from '../../tooling/tsup.base.js';

export default defineConfig({ ...packageBuild({ recur: 'src/recur.ts' }), dts: false, banner: { js: '#!/usr/bin/env node' } });
