import postgres from 'postgres';

export type Sql = postgres.Sql;
export type TxSql = postgres.TransactionSql;

export interface ConnectOptions {
  /** A full connection URL (local runs, tests, LocalStack mode). */
  url?: string;
  /** IAM auth through RDS Proxy: host, port, database and user; the password is a fresh token. */
  iam?: { host: string; port: number; database: string; user: string; region: string };
  /** Connections in the pool; a Lambda container uses 1. */
  max?: number;
  /** Supplies the IAM token (injected; the AWS adapter passes `@aws-sdk/rds-signer`). */
  tokenProvider?: () => Promise<string>;
  applicationName?: string;
}

const isLocalHost = (host: string) => host === 'localhost' || host === '127.0.0.1' || host === '::1';

/**
 * One `postgres` client, the only way Landfall connects (Lambda functions, local stack, CLI,
 * benchmarks). TLS is required unless the server is on this machine. Statements are never
 * prepared by name (`prepare: false`), whatever is in front of the database: RDS Proxy or a
 * transaction pooler such as pgbouncer may hand the next statement to another server session,
 * where a named statement does not exist (26000). The engine's statements are few and large, so
 * the unnamed protocol costs nothing measurable, and one rule cannot be forgotten in one place.
 */
export function connect(options: ConnectOptions): Sql {
  const common = {
    max: options.max ?? 1,
    prepare: false,
    onnotice: () => {},
    idle_timeout: 60,
    connect_timeout: 15,
    connection: { application_name: options.applicationName ?? 'landfall' },
    // bigint and numeric come back as text; counts are cast to int in SQL.
  } satisfies postgres.Options<Record<string, postgres.PostgresType>>;
  if (options.iam) {
    const { host, port, database, user } = options.iam;
    const token = options.tokenProvider;
    if (!token) throw new Error('IAM database auth needs a token provider');
    return postgres({
      ...common,
      host,
      port,
      database,
      username: user,
      password: token,
      ssl: isLocalHost(host) ? false : { rejectUnauthorized: true },
    });
  }
  if (!options.url) throw new Error('no database: set DATABASE_URL or the IAM connection settings');
  const host = new URL(options.url).hostname;
  const sslInUrl = /[?&]sslmode=/.test(options.url);
  return postgres(options.url, {
    ...common,
    ...(sslInUrl || isLocalHost(host) ? {} : { ssl: 'require' as const }),
  });
}
