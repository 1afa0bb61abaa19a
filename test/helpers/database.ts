import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, inject } from 'vitest';

export type Sql = postgres.Sql;

/** URL of the same server with another database name. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export interface TestDatabase {
  /** A client on a fresh database of its own (`prepare: false`, as behind a proxy). */
  sql: Sql;
  url: string;
  /** The same database through pgbouncer in transaction mode (null without pgbouncer). */
  pooledUrl: string | null;
  name: string;
}

/**
 * A fresh database for one test file on the run's real PostgreSQL, dropped after the file.
 * Call at the top level of a test file (it registers its own `afterAll`).
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `landfall_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = withDatabase(adminUrl, name);
  const sql = postgres(url, { max: 10, prepare: false, onnotice: () => {} });
  afterAll(async () => {
    await sql.end({ timeout: 5 });
    const cleanup = postgres(adminUrl, { max: 1, onnotice: () => {} });
    await cleanup.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await cleanup.end();
  });
  const pooled = inject('pooledAdminDatabaseUrl');
  return { sql, url, pooledUrl: pooled ? withDatabase(pooled, name) : null, name };
}
