import postgres from 'postgres';
import { EnvironmentError, EnvVar } from '../environment/env.ts';

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
  /** With `url`: the password of each login (the URL's is ignored), asked for again at every new connection. */
  password?: () => Promise<string>;
  /** Told when a login succeeded (the server's first ParameterStatus). */
  onLogin?: () => void;
  applicationName?: string;
}

const isLocalHost = (host: string) => host === 'localhost' || host === '127.0.0.1' || host === '::1';

/**
 * TLS that checks the server's certificate chain against the trust store and its name against
 * the host (libpq's `verify-full`). Node's store has the Amazon roots RDS Proxy certificates
 * chain to; an RDS instance's own CA is added with NODE_EXTRA_CA_CERTS (the stack sets it).
 * `host` is passed on because postgres.js sends no server name for an IP address, and Node
 * would then check the certificate against "localhost".
 */
export const verifyFull = (host: string) => ({ rejectUnauthorized: true, host }) as const;

/** `sslmode` values with which postgres.js does not check the certificate (or uses no TLS). */
const UNVERIFIED_SSLMODES = new Set(['disable', 'allow', 'prefer', 'require', 'no-verify']);

export class DatabaseTlsError extends Error {
  override name = 'DatabaseTlsError';
  readonly source: string;
  readonly sslmode: string;
  constructor(source: string, sslmode: string, options?: ErrorOptions) {
    super(
      `${source}: sslmode=${sslmode} does not verify the database's certificate; remove it (Landfall then verifies, ` +
        'as sslmode=verify-full does) or set sslmode=verify-full',
      options,
    );
    this.source = source;
    this.sslmode = sslmode;
  }
}

/** The `sslmode` of a connection URL, if it names one. */
export function sslmodeOf(url: string): string | undefined {
  return new URL(url).searchParams.get('sslmode') ?? undefined;
}

/**
 * Refuses a URL whose `sslmode` turns certificate checks off: for credentials that travel to a
 * database in AWS (a Secrets Manager secret), where a man in the middle would get the password.
 */
export function requireVerifiedTls(url: string, source: string): void {
  const mode = sslmodeOf(url);
  if (mode !== undefined && UNVERIFIED_SSLMODES.has(mode)) throw new DatabaseTlsError(source, mode);
}

/**
 * One `postgres` client, the only way Landfall connects (Lambda functions, local stack, CLI,
 * benchmarks). TLS with a verified certificate is required unless the server is on this machine
 * or the URL names an sslmode. Statements are never prepared by name (`prepare: false`),
 * whatever is in front of the database: RDS Proxy or a transaction pooler such as pgbouncer may
 * hand the next statement to another server session, where a named statement does not exist
 * (26000). The engine's statements are few and large, so the unnamed protocol costs nothing
 * measurable, and one rule cannot be forgotten in one place.
 */
export function connect(options: ConnectOptions): Sql {
  const common = {
    max: options.max ?? 1,
    prepare: false,
    onnotice: () => {},
    idle_timeout: 60,
    connect_timeout: 15,
    // The driver's wait before reconnecting grows with every failed attempt, shared by the pool;
    // its default (up to 20 s, reset only by a connection that succeeds) held queries for that
    // long after a restart. The consumer and replay pace their own retries (retry-policy.ts).
    backoff: (attempts: number) => Math.min(0.05 * 2 ** attempts, 1),
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
      ssl: isLocalHost(host) ? false : verifyFull(host),
    });
  }
  if (!options.url) throw new EnvironmentError(`no database: set ${EnvVar.databaseUrl} or the IAM connection settings`, [EnvVar.databaseUrl]);
  const host = new URL(options.url).hostname;
  // An sslmode in the URL is the operator's choice; without one, a remote server is verified.
  const onLogin = options.onLogin;
  const sql: Sql = postgres(options.url, {
    ...common,
    ...(sslmodeOf(options.url) !== undefined || isLocalHost(host) ? {} : { ssl: verifyFull(host) }),
    ...(options.password ? { password: options.password } : {}),
    // Every server (and proxy) reports server_version after a login. postgres.js passes a
    // parameter on only when its value changed, so it is forgotten each time: each login is told.
    ...(onLogin
      ? {
          onparameter: (key: string) => {
            if (key !== 'server_version') return;
            delete sql.parameters.server_version;
            onLogin();
          },
        }
      : {}),
  });
  return sql;
}
