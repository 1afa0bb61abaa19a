import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // One embedded PostgreSQL per run; each file gets its own database, so files may run in parallel.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
