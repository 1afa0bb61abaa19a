import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll } from 'vitest';
import { type EmbeddedServer, findFreePort, startEmbeddedPostgres } from '../../shared/local/embedded-postgres.ts';
import { startPgbouncer } from './pgbouncer.ts';

export interface RestartableDatabase {
  /** A temporary folder of the test's own (the server's data under `pg/`). */
  dir: string;
  /** The server's URL (stable across restarts: same port). */
  url: string;
  /** The URL the stack uses: the server, or pgbouncer in front of it. */
  databaseUrl: string;
  /** A connection for the test's own statements. */
  admin: postgres.Sql;
  /** Stops the server (a fast shutdown: in-flight transactions aborted, connections dropped) and starts it again on the same data and port; `downMs` between. */
  restart(downMs?: number): Promise<void>;
}

/**
 * A PostgreSQL server of the test's own, so that the test can restart it, optionally behind
 * pgbouncer (which stays up while the server restarts); everything stopped after the file.
 */
export async function restartableDatabase(prefix: string, options: { pgbouncerPoolSize?: number } = {}): Promise<RestartableDatabase> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  const port = await findFreePort();
  const start = () => startEmbeddedPostgres({ dataDir: join(dir, 'pg'), persistent: true, port });
  let server: EmbeddedServer = await start();
  afterAll(() => server.stop());
  const admin = postgres(server.url, { max: 1, onnotice: () => {} });
  afterAll(() => admin.end({ timeout: 2 }));
  let databaseUrl = server.url;
  if (options.pgbouncerPoolSize !== undefined) {
    const bouncer = await startPgbouncer(server.url, { poolSize: options.pgbouncerPoolSize });
    afterAll(() => bouncer.stop());
    databaseUrl = bouncer.urlFor(server.url);
  }
  return {
    dir,
    url: server.url,
    databaseUrl,
    admin,
    async restart(downMs = 0) {
      await server.stop();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      server = await start();
    },
  };
}
