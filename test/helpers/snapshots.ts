import type { BatchData, FileIdentity } from '../../shared/core/batch.ts';
import { applyBatch } from '../../shared/postgres/apply-batch.ts';
import type { Sql } from '../../shared/postgres/db.ts';
import { registerFile } from '../../shared/postgres/ledger/files.ts';
import { removeMissing, type RemovalOptions, type RemovalOutcome } from '../../shared/postgres/snapshot-removal.ts';
import type { TargetTable } from '../../shared/postgres/target-table.ts';
import { batchOfObjects, fileIdentity, makeBatch } from './batches.ts';
import { manifestOf } from './manifests.ts';

export type Row = Record<string, string | null>;

export interface AppliedFile {
  file: FileIdentity;
  fileId: string;
  batches: BatchData[];
}

/**
 * A file applied as the consumer applies one: registered from its manifest (with `rejected`
 * lines the producer refused), its rows cut into batches of `batchRows` on partitions by chunk,
 * each applied in its own transaction (unless `apply: false`); the removal is left to the caller.
 * With `objects`, the rows are NDJSON objects: a key a row lacks is absent (BatchData.absent).
 */
export async function applyFileRows(
  sql: Sql,
  target: TargetTable,
  rows: Row[],
  options: { file?: Partial<FileIdentity>; batchRows?: number; rejected?: number; columns?: string[]; apply?: boolean; objects?: boolean } = {},
): Promise<AppliedFile> {
  const file = fileIdentity(options.file);
  const size = options.batchRows ?? 1000;
  const batches: BatchData[] = [];
  for (let i = 0, chunk = 0; i < rows.length; i += size, chunk++) {
    const at = { partition: chunk % 2, chunk: chunk >> 1, firstRow: i + 1 };
    batches.push(options.objects ? batchOfObjects(target.config.table, rows.slice(i, i + size), file, at) : makeBatch({ table: target.config.table, rows: rows.slice(i, i + size), ...at }, file));
  }
  const first = batches[0] ?? makeBatch({ table: target.config.table, rows: [Object.fromEntries((options.columns ?? target.config.conflictKey).map((c) => [c, null]))] }, file);
  const manifest = { ...manifestOf(first, { rejected: options.rejected ?? 0, batchCount: batches.length }), read: rows.length + (options.rejected ?? 0) };
  await registerFile(sql, manifest, `manifests/${first.fileId}.json`);
  if (options.apply !== false) for (const batch of batches) await applyBatch(sql, target, batch);
  return { file, fileId: first.fileId, batches };
}

/** A snapshot file applied and its removal run, as the consumer does after its last batch. */
export async function snapshotFile(
  sql: Sql,
  target: TargetTable,
  rows: Row[],
  options: Parameters<typeof applyFileRows>[3] & { removal?: RemovalOptions } = {},
): Promise<AppliedFile & { outcome: RemovalOutcome }> {
  const applied = await applyFileRows(sql, target, rows, options);
  return { ...applied, outcome: await removeMissing(sql, target, applied.fileId, options.removal) };
}

/** `at(3)`: an S3 event time 3 minutes into the test's day, so files sort as the test says. */
export const at = (minute: number) => new Date(Date.UTC(2026, 5, 1, 0, minute)).toISOString();
