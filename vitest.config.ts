import { defineConfig } from 'vitest/config';

// LANDFALL_TEST_PROBE=1 runs only the deliberately failing probe (test/probe), under the same
// global setup as the real suite, so .ci/run can prove that a failing test fails the run.
const probe = process.env.LANDFALL_TEST_PROBE === '1';

export default defineConfig({
  test: {
    include: probe ? ['test/probe/**/*.probe.ts'] : ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // One embedded PostgreSQL per run; each file gets its own database, so files may run in parallel.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
