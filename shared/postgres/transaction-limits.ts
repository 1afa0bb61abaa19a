import type { TxSql } from './db.ts';

/**
 * How long one transaction's statements may run, and how long it may sit idle between two, as
 * the function's deadline allows. Set with `set_config(…, true)`, which is `SET LOCAL`: it ends
 * with the transaction, so nothing is left on a pooled session (RDS Proxy, pgbouncer).
 */
export interface TransactionLimits {
  /** `statement_timeout` (ms); null leaves the session's. */
  statementTimeoutMs: number | null;
  /** `idle_in_transaction_session_timeout` (ms); null leaves the session's. */
  idleInTransactionMs: number | null;
}

/**
 * Applies the limits as the transaction's first statement (one round trip; none without limits).
 * A statement still running at `statementTimeoutMs` is cancelled with 57014 (transient: the
 * record is retried), so a slow or locked table ends the transaction before Lambda ends the
 * function; the idle timeout ends a transaction whose function was killed between statements,
 * where the session outlives it behind the proxy.
 */
export async function limitTransaction(tx: TxSql, limits: TransactionLimits | undefined): Promise<void> {
  if (!limits || (limits.statementTimeoutMs === null && limits.idleInTransactionMs === null)) return;
  const ms = (value: number | null) => (value === null ? null : String(Math.max(1, Math.floor(value))));
  await tx`
    SELECT set_config('statement_timeout', coalesce(${ms(limits.statementTimeoutMs)}::text, current_setting('statement_timeout')), true),
           set_config('idle_in_transaction_session_timeout', coalesce(${ms(limits.idleInTransactionMs)}::text, current_setting('idle_in_transaction_session_timeout')), true)`;
}
