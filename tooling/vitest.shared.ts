import { defineConfig } from 'vitest/config';
import SummaryReporter from './summaryReporter.js';

/**
 * One vitest run covers the whole workspace. Packages resolve each other through the
 * `source` export condition, so tests run against src/ without a build.
 */
export default defineConfig({
  resolve: { conditions: ['source', 'module', 'node', 'import', 'default'] },
  ssr: { resolve: { conditions: ['source', 'module', 'node', 'import', 'default'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'tooling/test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The CLI and library default to all cores; the suite pins one thread (tests that need more ask for it).
    env: { RECUR_THREADS: '1' },
    reporters: ['default', new SummaryReporter()],
  },
});
