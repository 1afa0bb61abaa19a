/**
 * What to do with a failure, decided from the SQLSTATE (or the driver's error code):
 * - `transient`: retry the same batch later (connection lost, serialization, deadlock, resources).
 * - `batch-poison`: the data cannot be applied as a set; route to replay, never retry blindly.
 * - `config`: the table or the config is wrong; retrying cannot help, a person must act.
 */
export const ErrorClass = {
  transient: 'transient',
  batchPoison: 'batch-poison',
  config: 'config',
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
]);

/** 42xxx codes that come from the data (a value the statement cannot handle), not from a broken schema. */
const DATA_SYNTAX_CODES = new Set(['42804', '42P18', '428C9']);

/** Classifies a SQLSTATE or driver code. Unknown codes are `config`: a person must look. */
export function classifyCode(code: string | undefined): ErrorClass {
  if (!code) return ErrorClass.transient;
  if (TRANSIENT_DRIVER_CODES.has(code)) return ErrorClass.transient;
  if (code.length !== 5) return ErrorClass.transient;
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

/** Classifies anything thrown by the `postgres` driver or the network. */
export function classifyPgError(error: unknown): ErrorClass {
  if (error && typeof error === 'object' && 'code' in error) {
    const code = (error as { code?: unknown }).code;
    return classifyCode(typeof code === 'string' ? code : undefined);
  }
  return ErrorClass.transient;
}
