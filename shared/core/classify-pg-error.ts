/**
 * What to do with a failure, decided from the SQLSTATE (or the driver's error code):
 * - `transient`: retry the same batch later (connection lost, serialization, deadlock, resources).
 * - `batch-poison`: the data cannot be applied as a set; route to replay, never retry blindly.
 * - `config`: the table, the config or the environment is wrong; retrying cannot help, a person must act.
 * - `bug`: not the database, the network or the data: a programming error (a `TypeError`, an error
 *   without a code, a misuse of the driver). Retrying the same code cannot help; the code must be fixed.
 */
export const ErrorClass = {
  transient: 'transient',
  batchPoison: 'batch-poison',
  config: 'config',
  bug: 'bug',
} as const;
export type ErrorClass = (typeof ErrorClass)[keyof typeof ErrorClass];

/** Driver and socket error codes that mean the connection, not the data, failed. */
const TRANSIENT_DRIVER_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ECONNABORTED',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
]);

/** Driver codes of a call Landfall should never make (porsager/postgres `src/errors.js`). */
const BUG_DRIVER_CODES = new Set(['UNDEFINED_VALUE', 'MAX_PARAMETERS_EXCEEDED', 'NOT_TAGGED_CALL', 'UNSAFE_TRANSACTION', 'COPY_IN_PROGRESS', 'MESSAGE_NOT_SUPPORTED']);

/**
 * Landfall's own errors that mean a person must act (config file, table against its config,
 * environment, TLS settings, app role). By name: core imports none of the modules that define them.
 */
const CONFIG_ERROR_NAMES = new Set(['ConfigError', 'TableConfigError', 'EnvironmentError', 'TableNotFoundError', 'DatabaseTlsError', 'AppRoleError']);

/** 42xxx codes that come from the data (a value the statement cannot handle), not from a broken schema. */
const DATA_SYNTAX_CODES = new Set(['42804', '42P18', '428C9']);

/**
 * Classifies a SQLSTATE or driver code. No code is a `bug` (nothing says the database or the
 * network failed); unknown codes are `config`: a person must look.
 */
export function classifyCode(code: string | undefined): ErrorClass {
  if (!code) return ErrorClass.bug;
  if (TRANSIENT_DRIVER_CODES.has(code)) return ErrorClass.transient;
  if (BUG_DRIVER_CODES.has(code) || code.startsWith('ERR_')) return ErrorClass.bug;
  if (code.length !== 5) return ErrorClass.config; // SASL_SIGNATURE_MISMATCH, a TLS certificate code...
  const klass = code.slice(0, 2);
  switch (klass) {
    case '08': // connection exception
    case '53': // insufficient resources
    case '58': // system error (I/O)
      return ErrorClass.transient;
    case '40': // 40001 serialization failure, 40P01 deadlock
      return ErrorClass.transient;
    case '57': // operator intervention: 57P01 admin shutdown, 57014 query canceled (timeout)...
      return code === '57P04' ? ErrorClass.config : ErrorClass.transient; // 57P04 database dropped
    case '55':
      return code === '55P03' || code === '55006' ? ErrorClass.transient : ErrorClass.config; // lock not available, object in use
    case '21': // cardinality violation
    case '22': // data exception
    case '23': // integrity constraint violation
      return ErrorClass.batchPoison;
    case '42':
      return DATA_SYNTAX_CODES.has(code) ? ErrorClass.batchPoison : ErrorClass.config;
    case 'XX':
      return ErrorClass.transient;
    default:
      return ErrorClass.config;
  }
}

/**
 * Classifies anything thrown while applying a batch: a `postgres` driver or network error by its
 * code, Landfall's config and environment errors as `config`, anything else (a `TypeError`, a
 * plain `Error`) as `bug`, never `transient`.
 */
export function classifyPgError(error: unknown): ErrorClass {
  if (error instanceof Error && CONFIG_ERROR_NAMES.has(error.name)) return ErrorClass.config;
  if (error && typeof error === 'object' && '$metadata' in error) return classifyAwsError(error as AwsSdkError);
  if (error && typeof error === 'object' && 'code' in error) {
    const code = (error as { code?: unknown }).code;
    return classifyCode(typeof code === 'string' ? code : undefined);
  }
  return ErrorClass.bug;
}

/** The shape of an AWS SDK v3 service error (S3 or SQS reading or writing staging). */
interface AwsSdkError {
  $fault?: 'client' | 'server';
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/**
 * An AWS SDK error: throttling, a server fault or a retryable error is `transient` (the SDK's own
 * verdict, `$retryable`/`$fault`, and the HTTP status); any other client fault (403 access
 * denied, 404 a missing bucket) is `config`: a person must act.
 */
function classifyAwsError(error: AwsSdkError): ErrorClass {
  const status = error.$metadata?.httpStatusCode ?? 0;
  if (error.$retryable || error.$fault === 'server' || status === 429 || status >= 500) return ErrorClass.transient;
  return ErrorClass.config;
}

/** The fields of a PostgreSQL error that may be logged and stored: no parameters, no row values. */
export interface PgErrorFields {
  sqlstate: string | null;
  constraint: string | null;
  column: string | null;
  message: string;
}

/**
 * Reads a `postgres` driver error (porsager/postgres names the fields as the protocol does:
 * `code`, `constraint_name`, `column_name`); the one reader for the consumer, replay and
 * quarantine retry. Anything else gives its message and nulls.
 */
export function pgErrorFields(error: unknown): PgErrorFields {
  const e = (error ?? {}) as { code?: unknown; constraint_name?: unknown; column_name?: unknown; message?: unknown };
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  return { sqlstate: text(e.code), constraint: text(e.constraint_name), column: text(e.column_name), message: text(e.message) ?? String(error) };
}
