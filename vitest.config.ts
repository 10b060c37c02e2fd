import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/setup-runtime.ts'],
    // The Temporal native bridge is not safe in worker threads (sdk-typescript#876); one shared server, 2 cores.
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // CI asks for a machine-readable summary too (see .ci/run).
    reporters: process.env.CVMFLOW_VITEST_JSON ? ['default', 'json'] : ['default'],
    outputFile: process.env.CVMFLOW_VITEST_JSON ? { json: process.env.CVMFLOW_VITEST_JSON } : undefined,
  },
});
