import type { TestProject } from 'vitest/node';
import { startTemporaryPostgres } from '../../shared/local/embedded-postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
  }
}

/**
 * One real PostgreSQL per test run: the embedded one, unless DATABASE_URL points at a server
 * of the user's own (each test file then creates and drops its own database there).
 */
export default async function setup(project: TestProject) {
  const given = process.env.DATABASE_URL;
  if (given) {
    project.provide('adminDatabaseUrl', given);
    return;
  }
  const server = await startTemporaryPostgres('landfall-test-pg-');
  project.provide('adminDatabaseUrl', server.url);
  return () => server.stop();
}
