import type { BatchCounts, BatchData } from '../core/batch.ts';
import { type BatchMessage, type FileManifest, type FileNotice, FileStatus } from '../core/batch-message.ts';
import { classifyFailure, type Failure, FailureScope, pgErrorFields } from '../core/classify-pg-error.ts';
import type { Sql } from '../postgres/db.ts';
import { applyBatch, claimBatch, storedCounts } from '../postgres/apply-batch.ts';
import { planColumnAdditions } from '../core/evolve-plan.ts';
import { addColumns } from '../postgres/evolve-table.ts';
import { TableNotFoundError } from '../postgres/catalog.ts';
import { TableConfigError } from '../core/conflict-key.ts';
import { clearBlockedTable, recordBlockedTable, type TableRefusal } from '../postgres/ledger/blocked-tables.ts';
import { fileOutcome, markBatchPoisoned, registerFile } from '../postgres/ledger/files.ts';
import { quarantineRows } from '../postgres/quarantine.ts';
import { replayBatch } from '../postgres/replay-batch.ts';
import type { TargetTable } from '../postgres/target-table.ts';
import { BatchShapeError } from '../core/upsert-plan.ts';
import type { PoisonEnvelope } from '../core/dlq-envelope.ts';
import { type Deadline, RetryPolicy, statementTimeoutMs } from '../core/retry-policy.ts';
import { limitTransaction, type TransactionLimits } from '../postgres/transaction-limits.ts';
import { type RemovalOutcome, recordSnapshotBatch } from '../postgres/snapshot-removal.ts';
import { noteSnapshotNotice, settleSnapshot } from './snapshot-step.ts';

/** What the consumer and replay need from the outside, injected (tests hand in emulator clients). */
export interface BatchPorts {
  sql: Sql;
  /** The configured tables (as the config names them), for `prepareConfiguredTables`. */
  tableNames?: readonly string[];
  /** The prepared table (catalog checked), cached per container. */
  table(name: string): Promise<TargetTable>;
  /** Drops the cached catalog of a table, so the next `table()` reads it again. */
  forgetTable(name: string): void;
  readBatch(stagingKey: string): Promise<BatchData>;
  readManifest(manifestKey: string): Promise<FileManifest>;
  /** Marks the batch object applied for the staging lifecycle; never throws. */
  tagApplied(stagingKey: string): Promise<void>;
  /** Sends the envelope to the FIFO DLQ in the batch's message group. */
  sendToDlq(envelope: PoisonEnvelope): Promise<void>;
}

export type BatchOutcome =
  /** `removal`: what a snapshot file's removal step did after this batch (null when it had nothing to do). */
  | { outcome: 'applied' | 'already-applied' | 'replayed'; counts: BatchCounts; removal?: RemovalOutcome | null }
  | { outcome: 'poisoned'; sqlstate: string | null };

/**
 * The limits of a transaction begun now: statements end before the function's deadline, and an
 * idle transaction (its function killed) ends on the server. None without a deadline.
 */
function limitsAt(deadline: Deadline | undefined): TransactionLimits | undefined {
  if (!deadline) return undefined;
  return { statementTimeoutMs: statementTimeoutMs(deadline.remainingMs()), idleInTransactionMs: RetryPolicy.idleInTransactionMs, measuredAtMs: Date.now() };
}

/** The part of a PostgreSQL error the DLQ envelope carries: no parameters, no row values. */
function errorFields(error: unknown) {
  const { sqlstate, constraint, message } = pgErrorFields(error);
  return { sqlstate, constraint, message };
}

/**
 * Registers the file on first sight and keeps its ledger row up to date (registerFile). A
 * message sent while the file was still being read (no batch count) registers it as
 * `producing` from the manifest at its key (the opening one, or the final one once written), so
 * `status` lists the file with what is applied from its first batch on; a message with the count
 * registers the final manifest. Once the ledger has the file produced, nothing more is read.
 */
async function ensureFileRegistered(ports: BatchPorts, message: BatchMessage, known: Set<string>) {
  if (known.has(message.fileId) || (message.batchCount === null && known.has(whileReadOf(message.fileId)))) return;
  // The table's preparation migrates the ledger first: on a fresh database (a first deployment)
  // the file is registered in a ledger that exists. A refused table still has its file
  // registered, so `status` shows the file blocked (the batch then fails on the refusal).
  await ports.table(message.table).catch((error: unknown) => {
    if (!tableRefusalOf(error)) throw error;
  });
  const outcome = await fileOutcome(ports.sql, message.fileId);
  if (outcome === 'produced') {
    known.add(message.fileId);
    return;
  }
  if (message.batchCount === null) {
    if (outcome === null) await registerFile(ports.sql, await ports.readManifest(message.manifestKey), message.manifestKey);
    known.add(whileReadOf(message.fileId));
    return;
  }
  await registerFile(ports.sql, await ports.readManifest(message.manifestKey), message.manifestKey);
  known.add(message.fileId);
}

/** The `known` entry of a file registered while it is read (its final registration is still to come). */
const whileReadOf = (fileId: string) => `producing:${fileId}`;

/**
 * Why a failure is the table's, not the batch's (classifyFailure's `table` scope): the table is
 * missing, its unique index or a configured column does not fit the config, or the statement
 * failed on the schema, a grant or the set-up; with the rule's fix. Null for anything else (a
 * batch's or a row's data, transient, a bug): those never block a table.
 */
export function tableRefusalOf(error: unknown): TableRefusal | null {
  if (error instanceof TableConfigError) return { code: 'table-config', reason: error.reason, fix: error.fix };
  if (error instanceof TableNotFoundError) {
    return { code: 'table-missing', reason: error.message, fix: 'create the table (landfall doctor --config F checks it), then, in AWS, landfall grant-role --config F as the database admin' };
  }
  const failure = classifyFailure(error);
  if (failure.scope !== FailureScope.table) return null;
  const e = error as { name?: unknown; message?: unknown };
  const code = failure.code === null ? `error ${String(e?.name ?? 'Error')}` : failure.rule.on === 'sqlstate' ? `sqlstate ${failure.code}` : failure.code;
  return { code, reason: typeof e?.message === 'string' ? e.message : String(error), fix: failure.rule.fix ?? 'landfall doctor --config F checks the table against the config and names the fix' };
}

/** When each table was last cleared of a blocked state, per connection: one DELETE a minute at most while batches apply. */
const clearedAt = new WeakMap<Sql, Map<string, number>>();
const CLEAR_EVERY_MS = 60_000;

/** A batch of the table applied: a blocked state recorded for it (by any container) is over. */
async function tableApplied(ports: BatchPorts, table: string): Promise<void> {
  let cleared = clearedAt.get(ports.sql);
  if (!cleared) clearedAt.set(ports.sql, (cleared = new Map()));
  if (Date.now() - (cleared.get(table) ?? 0) < CLEAR_EVERY_MS) return;
  await clearBlockedTable(ports.sql, table);
  cleared.set(table, Date.now());
}

/**
 * The table refused the batch: recorded as blocked (reason and fix) so `status` says so, and the
 * cached catalog dropped so the fix is seen on the next delivery. The caller rethrows: the record
 * fails and SQS redelivers it (then the DLQ and replay), so nothing is lost while it waits.
 */
async function tableRefused(ports: BatchPorts, message: BatchMessage, refusal: TableRefusal): Promise<void> {
  ports.forgetTable(message.table);
  clearedAt.get(ports.sql)?.delete(message.table);
  // A message sent while its file was read does not register the file, and the refused head of
  // a FIFO group holds back the later ones that would: once the producer has finished the file
  // (the manifest is final), this one registers it, so `status` shows the file blocked.
  if (message.batchCount === null) {
    const manifest = await ports.readManifest(message.manifestKey).catch(() => null);
    if (manifest?.status === FileStatus.produced && (await fileOutcome(ports.sql, message.fileId)) !== 'produced') {
      await registerFile(ports.sql, manifest, message.manifestKey).catch(() => {});
    }
  }
  // After the registration: a file shows blocked when its table refused a delivery since.
  await recordBlockedTable(ports.sql, message.table, refusal).catch(() => {});
}

/** What the deploy step (or the local stack's start-up) found for one table. */
export interface TablePreparation {
  table: string;
  /** Prepared: its catalog snapshot was written to staging. */
  ready: boolean;
  /** Refused: recorded as blocked with the reason and the fix. */
  blocked: TableRefusal | null;
  /** Neither: the database could not be asked (no login yet, say); the first batch tries again. */
  error: string | null;
}

/**
 * Reads every configured table's catalog afresh: a table that fits is prepared, so its catalog
 * snapshot is in staging before the first file (the producer then partitions by the canonical
 * key and refuses a header that does not fit, from the first file on), and a blocked state its
 * catalog decided is cleared; a refused one is recorded as blocked. Never throws: the deploy
 * step runs before `landfall grant-role` on a new database, and must not fail the deploy.
 */
export async function prepareConfiguredTables(ports: BatchPorts): Promise<TablePreparation[]> {
  const results: TablePreparation[] = [];
  let unreachable: string | null = null;
  for (const table of ports.tableNames ?? []) {
    // The database failed for one table (a login, a connection): the others are not asked, so the
    // step ends well within the function's timeout.
    if (unreachable !== null) {
      results.push({ table, ready: false, blocked: null, error: unreachable });
      continue;
    }
    ports.forgetTable(table);
    try {
      // A table that prepares is clear of the refusals a catalog read decides (the ports do it).
      await ports.table(table);
      results.push({ table, ready: true, blocked: null, error: null });
    } catch (error) {
      const refusal = tableRefusalOf(error);
      if (refusal) await recordBlockedTable(ports.sql, table, refusal).catch(() => {});
      else unreachable = (error as Error).message ?? String(error);
      results.push({ table, ready: false, blocked: refusal, error: refusal ? null : unreachable });
    }
  }
  return results;
}

/**
 * A file notice: the producer picked the file up (its opening manifest), or the file has no
 * batches (moved aside, or nothing to apply): registered from the manifest at its key, which a
 * later manifest brings up to date (registerFile).
 */
export async function registerNotice(ports: BatchPorts, notice: FileNotice): Promise<void> {
  const produced = (await fileOutcome(ports.sql, notice.fileId)) === 'produced';
  // A snapshot file without batches (empty, or every line rejected) still has its removal step,
  // which holds it: noted before it is registered, settled after (also on a redelivery).
  const snapshot = notice.table !== '' && Boolean((await ports.table(notice.table).catch(() => null))?.snapshot);
  if (produced && !snapshot) return;
  const manifest = await ports.readManifest(notice.manifestKey);
  if (!produced) {
    await noteSnapshotNotice(ports, manifest);
    await registerFile(ports.sql, manifest, notice.manifestKey);
  }
  await settleSnapshot(ports, { table: manifest.table, fileId: manifest.fileId, key: manifest.file.key, arrival: manifest.arrival });
}

/** Why every row of a batch is quarantined: the SQLSTATE, the column where one is known, and the message with the fix. */
interface BatchFailure {
  sqlstate: string;
  column: string | null;
  message: string;
}

/** A failure of classifyFailure's `batch` scope, as the quarantine records it for each row of the batch. */
function batchFailureOf(error: unknown, failure: Failure): BatchFailure {
  if (error instanceof BatchShapeError) return { sqlstate: '42703', column: error.column, message: error.message };
  const { sqlstate, column, message } = pgErrorFields(error);
  const code = sqlstate ?? failure.code ?? 'XX000';
  const fix = failure.rule.fix ? `; fix: ${failure.rule.fix}` : '';
  return { sqlstate: code, column, message: `${message} (SQLSTATE ${code})${fix}` };
}

/**
 * A batch the table cannot take as it is (classifyFailure's `batch` scope: a column the table
 * lacks, more columns than PostgreSQL allows): every row is quarantined with the reason, so the
 * file completes, nothing is lost, the table is not blocked, and `quarantine retry` re-applies
 * the rows once the table or the mapping is fixed.
 */
async function quarantineWholeBatch(ports: BatchPorts, batch: BatchData, reason: BatchFailure, deadline?: Deadline): Promise<BatchCounts> {
  const target = await ports.table(batch.table).catch(() => null);
  return (await ports.sql.begin(async (tx) => {
    await limitTransaction(tx, limitsAt(deadline));
    if (!(await claimBatch(tx, batch))) return storedCounts(tx, batch.batchId);
    // A snapshot file: none of these rows has a trusted key, so its removal is held.
    if (target) await recordSnapshotBatch(tx, target, batch, 'keyless');
    const failures = batch.rowNumbers.map((_, row) => ({ row, sqlstate: reason.sqlstate, constraint: null, column: reason.column, message: reason.message }));
    await quarantineRows(tx, batch, failures);
    return storedCounts(tx, batch.batchId);
  })) as BatchCounts;
}

/**
 * Runs `work` on the table; when the batch's columns do not fit the cached catalog, reads the
 * catalog again and tries once more, so an `ALTER TABLE` the operator made takes effect in a
 * warm container. A table with `"schema": "evolve"` then gets the batch's missing columns added
 * (their own transaction) and the work runs a third time. A misfit that remains is thrown, as is
 * a ColumnAdditionError (more columns than PostgreSQL allows, no ownership of the table).
 */
async function withFreshCatalog<T>(ports: BatchPorts, batch: BatchData, work: (target: TargetTable) => Promise<T>): Promise<T> {
  try {
    return await work(await ports.table(batch.table));
  } catch (error) {
    if (!(error instanceof BatchShapeError)) throw error;
    ports.forgetTable(batch.table);
    const fresh = await ports.table(batch.table);
    try {
      return await work(fresh);
    } catch (again) {
      if (!(again instanceof BatchShapeError)) throw again;
      const additions = planColumnAdditions(fresh.config, fresh.catalog, batch);
      if (additions.length === 0) throw again;
      // A ColumnAdditionError when it fails: classified at the `evolve` stage by the caller.
      await addColumns(ports.sql, fresh, batch, additions);
      ports.forgetTable(batch.table);
      return work(await ports.table(batch.table));
    }
  }
}

/**
 * The consumer's work for one FIFO message: register the file on first sight, load the batch,
 * apply it exactly once. A failure is handled by what it belongs to (classifyFailure): a row's
 * (21000, 22xxx, 23xxx…) sends an envelope to the DLQ and counts as handled (the message is
 * acknowledged; replay takes over); the batch's (54011…) quarantines its rows with the reason;
 * the table's is recorded as blocked and thrown; anything else is thrown so SQS redelivers it.
 * With a `deadline`, the transaction's statements end before it (a transient 57014 instead of a
 * function killed mid-transaction).
 */
export async function consumeBatch(ports: BatchPorts, message: BatchMessage, attempt: number, known = new Set<string>(), deadline?: Deadline): Promise<BatchOutcome> {
  await ensureFileRegistered(ports, message, known);
  const batch = await ports.readBatch(message.stagingKey);
  let outcome: BatchOutcome;
  try {
    const result = await withFreshCatalog(ports, batch, (target) => applyBatch(ports.sql, target, batch, limitsAt(deadline)));
    await ports.tagApplied(message.stagingKey);
    await tableApplied(ports, batch.table);
    outcome = { outcome: result.status, counts: result.counts };
  } catch (error) {
    const failure = classifyFailure(error);
    if (failure.scope !== FailureScope.batch) {
      const refusal = tableRefusalOf(error);
      if (refusal) {
        await tableRefused(ports, message, refusal);
        throw error;
      }
      if (failure.scope !== FailureScope.row) throw error;
      const fields = errorFields(error);
      await markBatchPoisoned(ports.sql, message, `${fields.sqlstate ?? ''} ${fields.message}`.trim());
      await ports.sendToDlq({ format: 1, kind: 'poison', batch: message, ...fields, attempt, failedAt: new Date().toISOString() });
      return { outcome: 'poisoned', sqlstate: fields.sqlstate };
    }
    outcome = { outcome: 'applied', counts: await quarantineWholeBatch(ports, batch, batchFailureOf(error, failure), deadline) };
  }
  // A snapshot file's removal, after its last batch (also when this is a redelivery of it). Its
  // failure fails the record (SQS redelivers it), never the batch, which committed.
  const removal = await settleSnapshot(ports, { table: batch.table, fileId: batch.fileId, key: batch.file.key, arrival: batch.arrival });
  return { ...outcome, removal };
}

/**
 * Replay's work for one DLQ record: re-apply the batch in isolation (bad rows quarantined,
 * the rest applied, 21000 resolved row by row). Transient failures are thrown (retried, then
 * parked by the DLQ's own redrive). With a `deadline`, as `consumeBatch`.
 */
export async function replayBatchMessage(ports: BatchPorts, message: BatchMessage, known = new Set<string>(), deadline?: Deadline): Promise<BatchOutcome> {
  await ensureFileRegistered(ports, message, known);
  const batch = await ports.readBatch(message.stagingKey);
  let outcome: BatchOutcome;
  try {
    const result = await withFreshCatalog(ports, batch, (target) => replayBatch(ports.sql, target, batch, limitsAt(deadline)));
    await ports.tagApplied(message.stagingKey);
    await tableApplied(ports, batch.table);
    outcome = { outcome: result.status === 'applied' ? 'replayed' : 'already-applied', counts: result.counts };
  } catch (error) {
    const failure = classifyFailure(error);
    if (failure.scope !== FailureScope.batch) {
      const refusal = tableRefusalOf(error);
      if (refusal) await tableRefused(ports, message, refusal);
      throw error;
    }
    outcome = { outcome: 'replayed', counts: await quarantineWholeBatch(ports, batch, batchFailureOf(error, failure), deadline) };
  }
  const removal = await settleSnapshot(ports, { table: batch.table, fileId: batch.fileId, key: batch.file.key, arrival: batch.arrival });
  return { ...outcome, removal };
}
