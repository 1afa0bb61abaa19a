/**
 * What a failure belongs to, and so what happens to it (docs/operations.md, "What a failure
 * belongs to"). Decided by one table of rules, `FAILURE_RULES`:
 * - `table`: the table, its config, a grant or the stack's set-up is wrong; retrying cannot help
 *   until a person acts. The table is recorded as blocked with the reason and the fix (what
 *   `status`, `doctor` and the status page show); its batches wait and apply once it is fixed.
 * - `batch`: this file's batch cannot be applied as it is (its columns: more than PostgreSQL
 *   allows, a name the table cannot take, an identity column it may not write). Its rows are
 *   quarantined with the reason; the file completes and the table goes on with later files.
 * - `row`: some rows of the batch (a value, a constraint, a trigger's exception). Replay applies
 *   the batch row by row where it must: each bad row is quarantined with its reason, the rest applies.
 * - `transient`: the connection, the server, a lock or a timeout: retried.
 * - `login`: the functions' login was refused (their role, or the server's rules for it): a
 *   person must act, as for the table's, but nothing can be recorded as blocked (that needs the
 *   login that failed) and no table is at fault; the batches wait in the queue, retried at its pace.
 * - `bug`: not the database, the network or the data: a programming error. Retried (a fix
 *   deployed meanwhile applies the batch), then the DLQ and the parking queue; never dropped.
 */
export const FailureScope = {
  table: 'table',
  batch: 'batch',
  row: 'row',
  transient: 'transient',
  login: 'login',
  bug: 'bug',
} as const;
export type FailureScope = (typeof FailureScope)[keyof typeof FailureScope];

/** Where a failure happened, when a rule depends on it: `evolve` is adding a file's new columns to an `"evolve"` table. */
export type FailureStage = 'evolve';

export interface FailureRule {
  /**
   * What the rule matches, by `on`: a SQLSTATE (`54011`) or a SQLSTATE class (`22xxx`); a driver
   * or socket code (`ECONNRESET`, or a prefix: `ERR_TLS_*`); an error's `name` (Landfall's own
   * errors); an AWS SDK error (`retryable`: the SDK's verdict, a server fault, 429 or 5xx; `client`: any other).
   */
  match: string;
  on: 'sqlstate' | 'code' | 'name' | 'aws';
  /** Only failures that happened there; a rule with a stage wins over one without. */
  stage?: FailureStage;
  scope: FailureScope;
  /** What it means, in a few words (the reason's prefix where one is shown). */
  meaning: string;
  /** What fixes it, safe to follow (shown with a blocked table, or a quarantined batch, and in the handlers' log lines). */
  fix?: string;
  /**
   * A login refused with credentials that a fresh read of the database secret may replace (a
   * rotation): the next login reads the secret again, and the consumer retries the record once in
   * the same invocation (then SQS redelivers it, as any transient failure).
   */
  rereadsSecret?: true;
}

const DOCTOR_FIX = 'landfall doctor --config F checks the table against the config and names the fix';
const GRANT_FIX = 'landfall grant-role --config F (as the database admin) grants the Landfall role what it needs on the configured tables';
const FILE_COLUMNS_FIX = 'fix the file (remove or rename the column, or map it with "columns" in the config) and drop it again';
const LOGIN_FIX =
  'create the role the functions log in as, with LOGIN (and rds_iam for IAM auth): landfall grant-role --config F as the database admin; ' +
  '"no pg_hba.conf entry": the server refuses this host or a connection without TLS (check the host and sslmode of the URL, or the server\'s pg_hba.conf)';
const PASSWORD_FIX =
  'password mode reads the database secret again after a refused login (the consumer then retries the batch once at once); if it keeps failing, ' +
  "the secret's password is not the role's: put the role's password into the secret, or set the role's to the secret's (ALTER ROLE … PASSWORD); with DATABASE_URL, correct its password";

/**
 * Every SQLSTATE class PostgreSQL raises (Appendix A of its manual), the codes that differ from
 * their class, the driver's and the socket's codes, Landfall's own errors and AWS SDK errors, each
 * sorted into what it belongs to. The most specific rule wins: an exact SQLSTATE before its class,
 * a rule of the failure's stage before one without. A SQLSTATE no rule knows is the table's (a
 * person must look); an error without any code is a bug.
 */
export const FAILURE_RULES: readonly FailureRule[] = [
  // Landfall's own errors.
  { on: 'name', match: 'TableConfigError', scope: 'table', meaning: 'the table does not fit its config (unique index, key or version column)' },
  { on: 'name', match: 'TableNotFoundError', scope: 'table', meaning: 'the table does not exist' },
  { on: 'name', match: 'ConfigError', scope: 'table', meaning: 'the config is invalid' },
  { on: 'name', match: 'EnvironmentError', scope: 'table', meaning: "the function's environment is incomplete" },
  { on: 'name', match: 'DatabaseTlsError', scope: 'table', meaning: 'the database URL does not verify TLS' },
  { on: 'name', match: 'AppRoleError', scope: 'table', meaning: "the database role is not Landfall's least-privilege role" },
  { on: 'name', match: 'BatchShapeError', scope: 'batch', meaning: 'the batch has a column the table cannot take (its message names the fix)' },
  // AWS SDK errors (staging, queues).
  { on: 'aws', match: 'retryable', scope: 'transient', meaning: 'throttled, or a server fault' },
  { on: 'aws', match: 'client', scope: 'table', meaning: 'access denied, or a missing bucket or object', fix: 'npm run rehearse checks the grants of the functions; check the bucket and queue names in the environment' },
  // The driver and the socket.
  ...['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ECONNABORTED', 'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN'].map(
    (match): FailureRule => ({ on: 'code', match, scope: 'transient', meaning: 'the connection failed' }),
  ),
  ...['UNDEFINED_VALUE', 'MAX_PARAMETERS_EXCEEDED', 'NOT_TAGGED_CALL', 'UNSAFE_TRANSACTION', 'COPY_IN_PROGRESS', 'MESSAGE_NOT_SUPPORTED'].map(
    (match): FailureRule => ({ on: 'code', match, scope: 'bug', meaning: 'a call Landfall should never make' }),
  ),
  {
    on: 'code',
    match: 'SASL_SIGNATURE_MISMATCH',
    scope: 'login',
    meaning: "the login failed: the server's SCRAM signature did not verify (a proxy in the middle, or a server that does not hold the password)",
    fix: 'connect to the server or proxy the URL names, with TLS that verifies (leave sslmode out, or sslmode=verify-full)',
  },
  { on: 'code', match: 'ERR_TLS_*', scope: 'table', meaning: "the database's certificate does not verify" },
  { on: 'code', match: 'ERR_SSL_*', scope: 'table', meaning: 'TLS with the database failed' },
  { on: 'code', match: 'ERR_*', scope: 'bug', meaning: 'a Node API called wrongly' },
  // PostgreSQL, class by class.
  { on: 'sqlstate', match: '00xxx', scope: 'bug', meaning: 'success raised as an error' },
  { on: 'sqlstate', match: '01xxx', scope: 'bug', meaning: 'a warning raised as an error' },
  { on: 'sqlstate', match: '02xxx', scope: 'bug', meaning: 'no data' },
  { on: 'sqlstate', match: '03xxx', scope: 'bug', meaning: 'SQL statement not yet complete' },
  { on: 'sqlstate', match: '08xxx', scope: 'transient', meaning: 'connection exception' },
  { on: 'sqlstate', match: '09xxx', scope: 'row', meaning: "a trigger's action failed on the row" },
  { on: 'sqlstate', match: '0Axxx', scope: 'table', meaning: 'feature not supported for this table', fix: DOCTOR_FIX },
  { on: 'sqlstate', match: '0Bxxx', scope: 'bug', meaning: 'invalid transaction initiation' },
  { on: 'sqlstate', match: '0Fxxx', scope: 'bug', meaning: 'locator exception' },
  { on: 'sqlstate', match: '0Lxxx', scope: 'table', meaning: 'invalid grantor', fix: GRANT_FIX },
  { on: 'sqlstate', match: '0Pxxx', scope: 'table', meaning: 'invalid role', fix: GRANT_FIX },
  { on: 'sqlstate', match: '0Zxxx', scope: 'bug', meaning: 'diagnostics exception' },
  { on: 'sqlstate', match: '20xxx', scope: 'row', meaning: "a trigger's CASE found no branch for the row" },
  { on: 'sqlstate', match: '21xxx', scope: 'row', meaning: 'rows the database sees as one key (replay applies them one by one)' },
  { on: 'sqlstate', match: '22xxx', scope: 'row', meaning: 'a value the column cannot take' },
  { on: 'sqlstate', match: '22xxx', stage: 'evolve', scope: 'batch', meaning: 'a column name the database cannot take', fix: FILE_COLUMNS_FIX },
  { on: 'sqlstate', match: '23xxx', scope: 'row', meaning: 'a constraint refused the row' },
  { on: 'sqlstate', match: '24xxx', scope: 'bug', meaning: 'invalid cursor state' },
  { on: 'sqlstate', match: '25xxx', scope: 'bug', meaning: 'invalid transaction state' },
  { on: 'sqlstate', match: '25006', scope: 'transient', meaning: 'read-only transaction (a failover in progress)' },
  { on: 'sqlstate', match: '25P03', scope: 'transient', meaning: 'idle-in-transaction timeout' },
  { on: 'sqlstate', match: '25P04', scope: 'transient', meaning: 'transaction timeout' },
  { on: 'sqlstate', match: '26xxx', scope: 'bug', meaning: 'a prepared statement (Landfall never prepares)' },
  { on: 'sqlstate', match: '27xxx', scope: 'row', meaning: 'a trigger changed the row twice' },
  { on: 'sqlstate', match: '28xxx', scope: 'login', meaning: 'the login was refused', fix: LOGIN_FIX },
  // Transient after a secret rotation: the running container holds the old password until it
  // reads the secret again (the consumer does so at once and retries the record once in the same
  // invocation); between a rotation's setSecret and finishSecret even the secret holds the old one
  // for a few seconds. RDS Proxy refuses a client whose credentials it cannot match with 28000.
  // Never the table's (recording a block needs the login that failed) and never the batch's.
  {
    on: 'sqlstate',
    match: '28000',
    scope: 'transient',
    meaning: 'the login was refused: a rotated secret not read yet (RDS Proxy), or the role does not exist, may not log in, lacks rds_iam, or no pg_hba.conf entry for this host',
    fix: `${PASSWORD_FIX}; otherwise ${LOGIN_FIX}`,
    rereadsSecret: true,
  },
  { on: 'sqlstate', match: '28P01', scope: 'transient', meaning: 'the password was refused: a rotated secret not read yet, or a wrong one', fix: PASSWORD_FIX, rereadsSecret: true },
  { on: 'sqlstate', match: '2Bxxx', scope: 'table', meaning: 'dependent privileges exist', fix: GRANT_FIX },
  { on: 'sqlstate', match: '2Dxxx', scope: 'bug', meaning: 'invalid transaction termination' },
  { on: 'sqlstate', match: '2Fxxx', scope: 'row', meaning: "a trigger's function failed on the row" },
  { on: 'sqlstate', match: '34xxx', scope: 'bug', meaning: 'invalid cursor name' },
  { on: 'sqlstate', match: '38xxx', scope: 'table', meaning: "a function the table's triggers call is not allowed to run", fix: DOCTOR_FIX },
  { on: 'sqlstate', match: '39xxx', scope: 'table', meaning: "a trigger function of the table breaks its protocol", fix: DOCTOR_FIX },
  { on: 'sqlstate', match: '3Bxxx', scope: 'bug', meaning: 'savepoint exception' },
  { on: 'sqlstate', match: '3Dxxx', scope: 'table', meaning: 'the database does not exist' },
  { on: 'sqlstate', match: '3Fxxx', scope: 'table', meaning: 'the schema does not exist', fix: DOCTOR_FIX },
  { on: 'sqlstate', match: '40xxx', scope: 'transient', meaning: 'serialization failure or deadlock' },
  { on: 'sqlstate', match: '42xxx', scope: 'table', meaning: 'the statement does not fit the table (schema or privilege)', fix: DOCTOR_FIX },
  { on: 'sqlstate', match: '42501', scope: 'table', meaning: 'permission denied', fix: GRANT_FIX },
  { on: 'sqlstate', match: '42P01', scope: 'table', meaning: 'the table (or a relation its triggers use) does not exist', fix: DOCTOR_FIX },
  { on: 'sqlstate', match: '42804', scope: 'row', meaning: 'a value of the wrong type' },
  { on: 'sqlstate', match: '42P18', scope: 'row', meaning: 'a value of no determinable type' },
  { on: 'sqlstate', match: '428C9', scope: 'batch', meaning: 'the file writes a GENERATED ALWAYS column', fix: FILE_COLUMNS_FIX },
  { on: 'sqlstate', match: '42xxx', stage: 'evolve', scope: 'batch', meaning: 'a column name the table cannot take (a system column name, say)', fix: FILE_COLUMNS_FIX },
  {
    on: 'sqlstate',
    match: '42501',
    stage: 'evolve',
    scope: 'batch',
    meaning: 'permission denied',
    fix: 'make the Landfall role the owner of the table (ALTER TABLE … OWNER TO landfall), or add the columns with ALTER TABLE; then landfall quarantine retry',
  },
  { on: 'sqlstate', match: '44xxx', scope: 'row', meaning: "a view's CHECK OPTION refused the row" },
  { on: 'sqlstate', match: '53xxx', scope: 'transient', meaning: 'insufficient resources (disk, memory, connections)' },
  { on: 'sqlstate', match: '54xxx', scope: 'row', meaning: 'a value over a limit (row or index entry too big, nesting too deep)' },
  {
    on: 'sqlstate',
    match: '54011',
    scope: 'batch',
    meaning: 'too many columns: PostgreSQL allows 1,600 a table (dropped columns count)',
    fix: 'remove the extra columns from the file (or map them with "columns" in the config) and drop it again',
  },
  { on: 'sqlstate', match: '54023', scope: 'batch', meaning: 'too many arguments for one statement', fix: FILE_COLUMNS_FIX },
  { on: 'sqlstate', match: '55xxx', scope: 'table', meaning: 'the table is not in the state the statement needs', fix: DOCTOR_FIX },
  { on: 'sqlstate', match: '55P03', scope: 'transient', meaning: 'lock not available' },
  { on: 'sqlstate', match: '55006', scope: 'transient', meaning: 'object in use' },
  { on: 'sqlstate', match: '57xxx', scope: 'transient', meaning: 'operator intervention (shutdown, restart, a cancelled or timed-out statement)' },
  { on: 'sqlstate', match: '57P04', scope: 'table', meaning: 'the database was dropped' },
  { on: 'sqlstate', match: '58xxx', scope: 'transient', meaning: 'system error (I/O)' },
  { on: 'sqlstate', match: '72xxx', scope: 'transient', meaning: 'snapshot too old' },
  { on: 'sqlstate', match: 'F0xxx', scope: 'table', meaning: "the server's configuration file" },
  { on: 'sqlstate', match: 'HVxxx', scope: 'table', meaning: 'a foreign-data wrapper failed', fix: DOCTOR_FIX },
  { on: 'sqlstate', match: 'P0xxx', scope: 'row', meaning: "a trigger raised an exception for the row" },
  { on: 'sqlstate', match: 'XXxxx', scope: 'transient', meaning: 'internal error' },
  { on: 'sqlstate', match: 'XX001', scope: 'table', meaning: 'data corrupted', fix: 'restore or repair the table (a person must look); landfall doctor --config F' },
  { on: 'sqlstate', match: 'XX002', scope: 'table', meaning: 'index corrupted', fix: 'REINDEX the table (a person must look); landfall doctor --config F' },
];

/** A SQLSTATE no rule knows: a person must look. */
const UNKNOWN_SQLSTATE: FailureRule = { on: 'sqlstate', match: '?????', scope: 'table', meaning: 'a SQLSTATE Landfall does not know', fix: DOCTOR_FIX };
/** A driver code no rule knows (a TLS certificate code, say): a person must look. */
const UNKNOWN_CODE: FailureRule = { on: 'code', match: '?', scope: 'table', meaning: 'the connection to the database was refused' };
/** No code at all (a TypeError, a plain Error): nothing says the database, the network or the data failed. */
const NO_CODE: FailureRule = { on: 'name', match: '?', scope: 'bug', meaning: 'a programming error' };

/** A failure sorted: what it belongs to, the rule that said so, and the code it was read from. */
export interface Failure {
  scope: FailureScope;
  rule: FailureRule;
  /** The SQLSTATE or driver code, when there is one. */
  code: string | null;
  stage: FailureStage | null;
}

/** The shape of an AWS SDK v3 service error (S3 or SQS reading or writing staging). */
interface AwsSdkError {
  $fault?: 'client' | 'server';
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

function sqlstateRule(code: string, stage: FailureStage | null): FailureRule {
  const klass = `${code.slice(0, 2)}xxx`;
  const find = (match: string, withStage: boolean) => FAILURE_RULES.find((r) => r.on === 'sqlstate' && r.match === match && (withStage ? r.stage === stage : r.stage === undefined));
  return (stage && find(code, true)) || find(code, false) || (stage && find(klass, true)) || find(klass, false) || UNKNOWN_SQLSTATE;
}

function codeRule(code: string): FailureRule {
  const codes = FAILURE_RULES.filter((r) => r.on === 'code');
  return (
    codes.find((r) => r.match === code) ??
    codes.filter((r) => r.match.endsWith('*')).find((r) => code.startsWith(r.match.slice(0, -1))) ??
    UNKNOWN_CODE
  );
}

/**
 * Sorts anything thrown while consuming, replaying or evolving into what it belongs to (see
 * `FailureScope`), by the table `FAILURE_RULES`. An error named `ColumnAdditionError` (adding a
 * file's columns to an `"evolve"` table) is looked up at the `evolve` stage with its SQLSTATE.
 *
 * @example classifyFailure(Object.assign(new Error('tables can have at most 1600 columns'), { name: 'ColumnAdditionError', code: '54011' })).scope // 'batch'
 */
export function classifyFailure(error: unknown): Failure {
  const e = (error && typeof error === 'object' ? error : {}) as { name?: unknown; code?: unknown };
  const name = typeof e.name === 'string' ? e.name : null;
  const byName = name ? FAILURE_RULES.find((r) => r.on === 'name' && r.match === name) : undefined;
  if (byName && error instanceof Error) return { scope: byName.scope, rule: byName, code: null, stage: null };
  if (error && typeof error === 'object' && '$metadata' in error) {
    const aws = error as AwsSdkError;
    const status = aws.$metadata?.httpStatusCode ?? 0;
    const match = aws.$retryable || aws.$fault === 'server' || status === 429 || status >= 500 ? 'retryable' : 'client';
    const rule = FAILURE_RULES.find((r) => r.on === 'aws' && r.match === match)!;
    return { scope: rule.scope, rule, code: null, stage: null };
  }
  const code = typeof e.code === 'string' && e.code !== '' ? e.code : null;
  if (code === null) return { scope: NO_CODE.scope, rule: NO_CODE, code: null, stage: null };
  const stage: FailureStage | null = name === 'ColumnAdditionError' ? 'evolve' : null;
  const rule = code.length === 5 && /^[0-9A-Z]{5}$/.test(code) && !codeRuleExact(code) ? sqlstateRule(code, stage) : codeRule(code);
  return { scope: rule.scope, rule, code, stage };
}

/** A driver code of five capitals (none today) is read as a driver code, not a SQLSTATE. */
const codeRuleExact = (code: string) => FAILURE_RULES.some((r) => r.on === 'code' && r.match === code);

/**
 * The older, coarser view of `classifyFailure`, kept for the callers that only ask "retry, or
 * replay?": `transient`; `batch-poison` (the batch's data: rows or the batch itself, never
 * retried blindly); `config` (the table's or the login's: a person must act); `bug`.
 */
export const ErrorClass = {
  transient: 'transient',
  batchPoison: 'batch-poison',
  config: 'config',
  bug: 'bug',
} as const;
export type ErrorClass = (typeof ErrorClass)[keyof typeof ErrorClass];

const CLASS_OF_SCOPE: Record<FailureScope, ErrorClass> = { table: 'config', batch: 'batch-poison', row: 'batch-poison', transient: 'transient', login: 'config', bug: 'bug' };

/** Classifies a SQLSTATE or driver code (see `classifyFailure`). No code is a `bug`. */
export function classifyCode(code: string | undefined): ErrorClass {
  return CLASS_OF_SCOPE[classifyFailure({ code }).scope];
}

/** Classifies anything thrown while applying a batch (see `classifyFailure`). */
export function classifyPgError(error: unknown): ErrorClass {
  return CLASS_OF_SCOPE[classifyFailure(error).scope];
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
