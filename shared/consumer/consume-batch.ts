import type { BatchCounts, BatchData } from '../core/batch.ts';
import type { BatchMessage, FileManifest, FileNotice } from '../core/batch-message.ts';
import { classifyPgError, ErrorClass, pgErrorFields } from '../core/classify-pg-error.ts';
import type { Sql } from '../postgres/db.ts';
import { applyBatch, claimBatch, storedCounts } from '../postgres/apply-batch.ts';
import { planColumnAdditions } from '../core/evolve-plan.ts';
import { addColumns } from '../postgres/evolve-table.ts';
import { isFileRegistered, markBatchPoisoned, registerFile } from '../postgres/ledger/files.ts';
import { quarantineRows } from '../postgres/quarantine.ts';
import { replayBatch } from '../postgres/replay-batch.ts';
import type { TargetTable } from '../postgres/target-table.ts';
import { BatchShapeError } from '../core/upsert-plan.ts';
import type { PoisonEnvelope } from '../core/dlq-envelope.ts';

/** What the consumer and replay need from the outside, injected (tests hand in emulator clients). */
export interface BatchPorts {
  sql: Sql;
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
  | { outcome: 'applied' | 'already-applied' | 'replayed'; counts: BatchCounts }
  | { outcome: 'poisoned'; sqlstate: string | null };

/** The part of a PostgreSQL error the DLQ envelope carries: no parameters, no row values. */
function errorFields(error: unknown) {
  const { sqlstate, constraint, message } = pgErrorFields(error);
  return { sqlstate, constraint, message };
}

/**
 * Registers the file from its manifest on first sight. A message sent while the file was still
 * being read (no batch count) applies its batch without registering: the manifest is not final
 * yet, and every file has messages sent after it that register it, so `status` never sees a
 * file complete before its manifest.
 */
async function ensureFileRegistered(ports: BatchPorts, message: BatchMessage, known: Set<string>) {
  if (known.has(message.fileId) || message.batchCount === null) return;
  // The table's preparation migrates the ledger first: on a fresh database (a first deployment)
  // the file is registered in a ledger that exists.
  await ports.table(message.table);
  if (!(await isFileRegistered(ports.sql, message.fileId))) {
    await registerFile(ports.sql, await ports.readManifest(message.manifestKey), message.manifestKey);
  }
  known.add(message.fileId);
}

/** A file without batches (moved aside, or nothing to apply): registered from its manifest. */
export async function registerNotice(ports: BatchPorts, notice: FileNotice): Promise<void> {
  if (await isFileRegistered(ports.sql, notice.fileId)) return;
  await registerFile(ports.sql, await ports.readManifest(notice.manifestKey), notice.manifestKey);
}

/**
 * A batch whose columns the table cannot take (a column the table lacks): every row is
 * quarantined with the reason, so the file completes, nothing is lost, and `quarantine retry`
 * re-applies the rows once the table or the mapping is fixed.
 */
async function quarantineWholeBatch(ports: BatchPorts, batch: BatchData, error: BatchShapeError): Promise<BatchCounts> {
  return (await ports.sql.begin(async (tx) => {
    if (!(await claimBatch(tx, batch))) return storedCounts(tx, batch.batchId);
    const failures = batch.rowNumbers.map((_, row) => ({ row, sqlstate: '42703', constraint: null, column: error.column, message: error.message }));
    await quarantineRows(tx, batch, failures);
    return storedCounts(tx, batch.batchId);
  })) as BatchCounts;
}

/**
 * Runs `work` on the table; when the batch's columns do not fit the cached catalog, reads the
 * catalog again and tries once more, so an `ALTER TABLE` the operator made takes effect in a
 * warm container. A table with `"schema": "evolve"` then gets the batch's missing columns added
 * (their own transaction) and the work runs a third time. A misfit that remains is thrown.
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
      try {
        await addColumns(ports.sql, fresh, batch, additions);
      } catch (alter) {
        if ((alter as { code?: string }).code !== '42501') throw alter;
        const names = additions.map((a) => `"${a.name}"`).join(', ');
        throw new BatchShapeError(batch.table, additions[0]!.name, `"schema": "evolve" could not add ${names}: permission denied (42501); grant the Landfall user ownership of the table, or add the columns with ALTER TABLE`);
      }
      ports.forgetTable(batch.table);
      return work(await ports.table(batch.table));
    }
  }
}

/**
 * The consumer's work for one FIFO message: register the file on first sight, load the batch,
 * apply it exactly once. A failure on the data (21000, 22xxx, 23xxx) sends an envelope to the
 * DLQ and counts as handled (the message is acknowledged; replay takes over); anything else is
 * thrown so SQS redelivers the message.
 */
export async function consumeBatch(ports: BatchPorts, message: BatchMessage, attempt: number, known = new Set<string>()): Promise<BatchOutcome> {
  await ensureFileRegistered(ports, message, known);
  const batch = await ports.readBatch(message.stagingKey);
  try {
    const result = await withFreshCatalog(ports, batch, (target) => applyBatch(ports.sql, target, batch));
    await ports.tagApplied(message.stagingKey);
    return { outcome: result.status, counts: result.counts };
  } catch (error) {
    if (error instanceof BatchShapeError) return { outcome: 'applied', counts: await quarantineWholeBatch(ports, batch, error) };
    if (classifyPgError(error) !== ErrorClass.batchPoison) throw error;
    const fields = errorFields(error);
    await markBatchPoisoned(ports.sql, message, `${fields.sqlstate ?? ''} ${fields.message}`.trim());
    await ports.sendToDlq({ format: 1, kind: 'poison', batch: message, ...fields, attempt, failedAt: new Date().toISOString() });
    return { outcome: 'poisoned', sqlstate: fields.sqlstate };
  }
}

/**
 * Replay's work for one DLQ record: re-apply the batch in isolation (bad rows quarantined,
 * the rest applied, 21000 resolved row by row). Transient failures are thrown (retried, then
 * parked by the DLQ's own redrive).
 */
export async function replayBatchMessage(ports: BatchPorts, message: BatchMessage, known = new Set<string>()): Promise<BatchOutcome> {
  await ensureFileRegistered(ports, message, known);
  const batch = await ports.readBatch(message.stagingKey);
  try {
    const result = await withFreshCatalog(ports, batch, (target) => replayBatch(ports.sql, target, batch));
    await ports.tagApplied(message.stagingKey);
    return { outcome: result.status === 'applied' ? 'replayed' : 'already-applied', counts: result.counts };
  } catch (error) {
    if (error instanceof BatchShapeError) return { outcome: 'replayed', counts: await quarantineWholeBatch(ports, batch, error) };
    throw error;
  }
}
