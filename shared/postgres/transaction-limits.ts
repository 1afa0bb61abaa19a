import type { BatchData } from '../core/batch.ts';
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
  /**
   * When `statementTimeoutMs` was measured (the client's `Date.now()`). The time until the server
   * runs the limits is taken off it: a transaction that waited for a connection at a saturated
   * pooler (pgbouncer's queue, RDS Proxy's borrow timeout) still ends its statements before the
   * function's deadline. Never more than the timeout less 1 ms (a server clock behind the client's
   * takes nothing off).
   */
  measuredAtMs?: number;
}

/** The most `work_mem` a batch's transaction asks for (`workMemFor`): each sort or hash of its statement may use this much. */
export const WORK_MEM_MAX_BYTES = 64 * 1024 * 1024;

/**
 * The `work_mem` a batch's statement needs to keep its reduction's sort and the sets it reads
 * twice (the reduced rows, the written keys) in memory instead of spilling them to temporary
 * files: about twice the batch's values as text (a 50,000-row batch of 8 columns, 7 MB of
 * values, sorts in 10 MB), at most `WORK_MEM_MAX_BYTES`. null for a batch small enough for
 * PostgreSQL's default (4 MB).
 */
export function workMemFor(batch: Pick<BatchData, 'values'>, rows: readonly number[] | null = null): number | null {
  let bytes = 0;
  for (const column of batch.values) {
    if (rows === null) for (const value of column) bytes += value === null ? 4 : value.length + 16;
    else for (const r of rows) bytes += (column[r]?.length ?? 0) + 16;
  }
  const wanted = 2 * bytes;
  return wanted <= 4 * 1024 * 1024 ? null : Math.min(WORK_MEM_MAX_BYTES, wanted);
}

/**
 * Applies the limits as the transaction's first statement (one round trip; none without limits).
 * A statement still running at `statementTimeoutMs` is cancelled with 57014 (transient: the
 * record is retried), so a slow or locked table ends the transaction before Lambda ends the
 * function; the idle timeout ends a transaction whose function was killed between statements,
 * where the session outlives it behind the proxy. `workMemBytes` raises `work_mem` for this
 * transaction only (never below the session's setting; `workMemFor`), in the same statement.
 */
export async function limitTransaction(tx: TxSql, limits: TransactionLimits | undefined, workMemBytes: number | null = null): Promise<void> {
  const timeouts = limits && (limits.statementTimeoutMs !== null || limits.idleInTransactionMs !== null) ? limits : null;
  if (!timeouts && workMemBytes === null) return;
  const ms = (value: number | null | undefined) => (value === null || value === undefined ? null : String(Math.max(1, Math.floor(value))));
  const kB = workMemBytes === null ? null : String(Math.max(64, Math.ceil(workMemBytes / 1024)));
  const measuredAt = timeouts?.statementTimeoutMs != null && timeouts.measuredAtMs !== undefined ? String(Math.floor(timeouts.measuredAtMs)) : null;
  await tx`
    SELECT set_config('statement_timeout', coalesce((
             SELECT (t - CASE WHEN at IS NULL THEN 0 ELSE least(t - 1, greatest(0, floor(extract(epoch FROM clock_timestamp()) * 1000)::int8 - at)) END)::text
             FROM (SELECT ${ms(timeouts?.statementTimeoutMs)}::int8 AS t, ${measuredAt}::int8 AS at) AS limits),
           current_setting('statement_timeout')), true),
           set_config('idle_in_transaction_session_timeout', coalesce(${ms(timeouts?.idleInTransactionMs)}::text, current_setting('idle_in_transaction_session_timeout')), true),
           set_config('work_mem', CASE WHEN ${kB}::int8 IS NULL OR pg_size_bytes(current_setting('work_mem')) >= ${kB}::int8 * 1024
                                       THEN current_setting('work_mem') ELSE ${kB}::text || 'kB' END, true)`;
}
