import type { TestProject } from 'vitest/node';
import { startTemporaryPostgres } from '../../shared/local/embedded-postgres.ts';
import { pgbouncerBinary, startPgbouncer } from './pgbouncer.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    /** The same server through pgbouncer in transaction mode, or null where pgbouncer is not installed. */
    pooledAdminDatabaseUrl: string | null;
  }
}

/**
 * One real PostgreSQL per test run: the embedded one, unless DATABASE_URL points at a server
 * of the user's own (each test file then creates and drops its own database there).
 */
export default async function setup(project: TestProject) {
  const given = process.env.DATABASE_URL;
  const server = given ? null : await startTemporaryPostgres('landfall-test-pg-');
  const url = given ?? server!.url;
  project.provide('adminDatabaseUrl', url);
  // pgbouncer (the RDS Proxy stand-in) in front of it, for the suites that run through a pooler.
  const bouncer = pgbouncerBinary() && new URL(url).hostname === '127.0.0.1' ? await startPgbouncer(url, { poolSize: 3 }) : null;
  project.provide('pooledAdminDatabaseUrl', bouncer?.urlFor(url) ?? null);
  return async () => {
    await bouncer?.stop();
    await server?.stop();
  };
}
