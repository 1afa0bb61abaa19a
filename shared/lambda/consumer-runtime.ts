import type { S3Client } from '@aws-sdk/client-s3';
import { classifyFailure } from '../core/classify-pg-error.ts';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { Signer } from '@aws-sdk/rds-signer';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { LandfallConfig } from '../core/config.ts';
import { requireEnv } from '../environment/config-env.ts';
import { type ConnectOptions, connect, requireVerifiedTls, type Sql } from '../postgres/db.ts';
import { EnvironmentError, EnvVar } from '../environment/env.ts';
import { readFunctionEnv } from '../environment/function-env.ts';
import { migrateLedger } from '../postgres/ledger/migrate.ts';
import { tableCache } from '../postgres/target-table.ts';
import { snapshotOf } from '../core/catalog-snapshot.ts';
import { CATALOG_REFUSALS, clearBlockedTable } from '../postgres/ledger/blocked-tables.ts';
import { catalogPublisher, dlqSender, stagingReader } from '../aws/consumer-ports.ts';
import { type ChangeVisibility, sqsVisibility } from '../aws/sqs-visibility.ts';
import type { BatchPorts } from '../consumer/consume-batch.ts';

export interface BatchSettings {
  config: LandfallConfig;
  stagingBucket: string;
  /** The consumer's only: replay never routes to the DLQ (it is driven by it). */
  dlqUrl?: string;
  database: DatabaseSource;
}

/** How to reach the database: settled options, or a Secrets Manager secret read at cold start. */
export type DatabaseSource =
  | { kind: 'options'; options: ConnectOptions }
  | { kind: 'secret'; secretArn: string; overrides: { host?: string; port?: number; database?: string; user?: string }; who: string };

/**
 * A connection URL from a secret: RDS's JSON (`username`, `password`, `host`, `port`, `dbname`)
 * or a plain `postgres://` URL; LANDFALL_DB_HOST/PORT/NAME/USER win over its fields (the host is
 * usually the RDS Proxy endpoint, not the instance the secret names).
 */
export function urlFromSecret(secret: string, overrides: Extract<DatabaseSource, { kind: 'secret' }>['overrides']): string {
  let url: URL;
  if (secret.trim().startsWith('postgres')) {
    url = new URL(secret.trim());
  } else {
    const fields = JSON.parse(secret) as { username?: string; password?: string; host?: string; port?: number | string; dbname?: string };
    const host = overrides.host ?? fields.host;
    if (!host) throw new EnvironmentError(`database secret names no host; set ${EnvVar.dbHost}`, [EnvVar.dbHost]);
    url = new URL(`postgres://${host}`);
    url.username = encodeURIComponent(fields.username ?? '');
    url.password = encodeURIComponent(fields.password ?? '');
    url.port = String(fields.port ?? 5432);
    url.pathname = `/${encodeURIComponent(fields.dbname ?? 'postgres')}`;
  }
  if (overrides.host) url.hostname = overrides.host;
  if (overrides.port) url.port = String(overrides.port);
  if (overrides.database) url.pathname = `/${encodeURIComponent(overrides.database)}`;
  if (overrides.user) url.username = encodeURIComponent(overrides.user);
  return url.toString();
}

/**
 * Database settings from the environment: DATABASE_URL, or IAM auth through RDS Proxy
 * (LANDFALL_DB_HOST/PORT/NAME/USER, a fresh token from @aws-sdk/rds-signer per connection).
 */
export function databaseFromEnv(env: NodeJS.ProcessEnv, who: string): DatabaseSource {
  const url = env[EnvVar.databaseUrl];
  if (url) return { kind: 'options', options: { url, max: 1, applicationName: `landfall-${who}` } };
  const secretArn = env[EnvVar.dbSecretArn];
  if (secretArn) {
    const port = env[EnvVar.dbPort];
    return {
      kind: 'secret',
      secretArn,
      who,
      overrides: {
        ...(env[EnvVar.dbHost] ? { host: env[EnvVar.dbHost] } : {}),
        ...(port ? { port: Number(port) } : {}),
        ...(env[EnvVar.dbName] ? { database: env[EnvVar.dbName] } : {}),
        ...(env[EnvVar.dbUser] ? { user: env[EnvVar.dbUser] } : {}),
      },
    };
  }
  const v = requireEnv(env, who, [EnvVar.dbHost, EnvVar.dbName, EnvVar.dbUser]);
  const iam = {
    host: v[EnvVar.dbHost]!,
    port: Number(env[EnvVar.dbPort] ?? 5432),
    database: v[EnvVar.dbName]!,
    user: v[EnvVar.dbUser]!,
    region: env[EnvVar.awsRegion] ?? 'us-east-1',
  };
  const signer = new Signer({ hostname: iam.host, port: iam.port, username: iam.user, region: iam.region });
  return { kind: 'options', options: { iam, max: 1, applicationName: `landfall-${who}`, tokenProvider: () => signer.getAuthToken() } };
}

/**
 * The consumer's and replay's settings from their environment contracts (shared/environment/function-env.ts),
 * read once at cold start; fails fast naming what is missing.
 */
export function batchSettingsFromEnv(env: NodeJS.ProcessEnv, who: 'consumer' | 'replay'): BatchSettings {
  if (who === 'consumer') {
    const { config, vars } = readFunctionEnv(env, 'consumer');
    return { config, stagingBucket: vars[EnvVar.stagingBucket], dlqUrl: vars[EnvVar.dlqUrl], database: databaseFromEnv(env, who) };
  }
  const { config, vars } = readFunctionEnv(env, 'replay');
  return { config, stagingBucket: vars[EnvVar.stagingBucket], database: databaseFromEnv(env, who) };
}

/**
 * The visibility adapter of a Lambda container over its own queue (LANDFALL_SOURCE_QUEUE_URL),
 * for `BatchHandlerOptions.visibility`; fails fast when the variable is missing.
 */
export function visibilityFromEnv(env: NodeJS.ProcessEnv, who: 'consumer' | 'replay', sqs: SQSClient): ChangeVisibility {
  const found = requireEnv(env, who, [EnvVar.sourceQueueUrl]);
  return sqsVisibility(sqs, found[EnvVar.sourceQueueUrl]!);
}

/**
 * The ports over real clients. Tables are prepared on first use (ledger migrated once, catalog
 * read, conflict key checked, the catalog snapshot written to staging, a blocked state the
 * catalog decided cleared) and cached for `catalogMaxAgeMs`; a refusal is not cached, so fixing
 * the table takes effect on the next delivery.
 */
export function createBatchPorts(options: {
  config: LandfallConfig;
  sql: Sql;
  s3: S3Client;
  sqs: SQSClient;
  stagingBucket: string;
  /** Absent for replay, which never sends to the DLQ. */
  dlqUrl?: string | undefined;
  /** Tag applied batch objects for the staging lifecycle (off for emulators that cannot tag). */
  tagApplied?: boolean;
  /** Told when a catalog snapshot could not be written (the producer then keeps the last one). */
  onSnapshotError?: (table: string, error: unknown) => void;
  /** A prepared table's catalog is read again (and its snapshot written) after this long (default 5 minutes). */
  catalogMaxAgeMs?: number;
}): BatchPorts {
  const { config, sql } = options;
  const staging = stagingReader(options.s3, options.stagingBucket);
  const publish = catalogPublisher(options.s3, options.stagingBucket);
  const onSnapshotError =
    options.onSnapshotError ?? ((table: string, error: unknown) => console.warn(JSON.stringify({ message: 'could not write the catalog snapshot', table, error: String(error) })));
  // An old catalog is read again, so an ALTER TABLE reaches the snapshot the producer reads;
  // every catalog read is written to staging as the producer's snapshot of the table.
  const tables = tableCache(sql, config, {
    maxAgeMs: options.catalogMaxAgeMs ?? 5 * 60_000,
    onPrepared: async (target) => {
      await publish(snapshotOf(target, new Date())).catch((error: unknown) => onSnapshotError(target.config.table, error));
      // The table fits its config now: a refusal a catalog read decided (missing, no key index) is over.
      await clearBlockedTable(sql, target.config.table, CATALOG_REFUSALS).catch(() => {});
    },
  });
  return {
    sql,
    tableNames: config.tables.map((t) => t.table),
    ...staging,
    tagApplied: options.tagApplied === false ? async () => {} : staging.tagApplied,
    sendToDlq: options.dlqUrl ? dlqSender(options.sqs, options.dlqUrl) : () => Promise.reject(new Error('replay never sends to the DLQ')),
    forgetTable: (name) => tables.forget(name),
    table: (name) => tables.table(name),
  };
}

/**
 * The credentials of a database secret, read once and read again when a login did not succeed:
 * after a rotation the cached password meets 28P01 (28000 through RDS Proxy), and the next login reads the secret again
 * instead of failing until the container is recycled. A login succeeded once the server sent its
 * first ParameterStatus (`loggedIn`); a password handed to a login that never got that far is
 * not handed out again.
 */
export function secretCredentials(client: SecretsManagerClient, source: Extract<DatabaseSource, { kind: 'secret' }>) {
  let cached: Promise<string> | undefined;
  let unconfirmed = false;
  const read = () => {
    const reading = (async () => {
      const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: source.secretArn }));
      if (!SecretString) throw new EnvironmentError(`database secret ${source.secretArn} has no SecretString`, [EnvVar.dbSecretArn]);
      const url = urlFromSecret(SecretString, source.overrides);
      requireVerifiedTls(url, `database secret ${source.secretArn}`);
      return url;
    })();
    // A failed read is not kept: the next login tries again.
    reading.catch(() => {
      if (cached === reading) cached = undefined;
    });
    return (cached = reading);
  };
  return {
    /** The secret's connection URL (read once). */
    url: (): Promise<string> => cached ?? read(),
    /** The password for a login: read again when the previous login with it did not succeed. */
    async password(): Promise<string> {
      const url = unconfirmed || !cached ? read() : cached;
      unconfirmed = true;
      return decodeURIComponent(new URL(await url).password);
    },
    loggedIn(): void {
      unconfirmed = false;
    },
  };
}

/** A connection for a Lambda container: one connection, kept across invocations. */
export async function connectFromSettings(settings: BatchSettings, secrets?: SecretsManagerClient): Promise<Sql> {
  const source = settings.database;
  if (source.kind === 'options') return connect(source.options);
  const credentials = secretCredentials(secrets ?? new SecretsManagerClient({}), source);
  const url = new URL(await credentials.url());
  url.password = '';
  const sql = connect({ url: url.toString(), password: credentials.password, onLogin: credentials.loggedIn, max: 1, applicationName: `landfall-${source.who}` });
  // The first login now, so that a rotation between the read and the login (28P01, or 28000
  // through RDS Proxy) costs one more read here rather than a failed record; anything else
  // surfaces at the first statement.
  await sql`SELECT 1`.catch(async (error: unknown) => {
    if (!classifyFailure(error).rule.rereadsSecret) return;
    await sql`SELECT 1`.catch(async (again: unknown) => {
      await sql.end({ timeout: 1 }).catch(() => {});
      throw again;
    });
  });
  return sql;
}

/** The ports of a Lambda container from its environment (config, clients, database). */
export async function batchPortsFromEnv(env: NodeJS.ProcessEnv, who: 'consumer' | 'replay', clients: { s3: S3Client; sqs: SQSClient }): Promise<BatchPorts> {
  const settings = batchSettingsFromEnv(env, who);
  const sql = await connectFromSettings(settings);
  // Before the first batch registers its file: on a fresh database the ledger must exist first.
  await migrateLedger(sql);
  return createBatchPorts({ ...settings, ...clients, sql });
}
