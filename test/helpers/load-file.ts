import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { type BatchCounts, countsAddUp } from '../../shared/core/batch.ts';
import { snapshotOf } from '../../shared/core/catalog-snapshot.ts';
import { classifyPgError, ErrorClass } from '../../shared/core/classify-pg-error.ts';
import { parseConfig, type TableConfigInput } from '../../shared/core/config.ts';
import { applyBatch } from '../../shared/postgres/apply-batch.ts';
import { migrateLedger } from '../../shared/postgres/ledger/migrate.ts';
import type { Sql } from '../../shared/postgres/db.ts';
import type { RowFailure } from '../../shared/postgres/quarantine.ts';
import { replayBatch } from '../../shared/postgres/replay-batch.ts';
import { prepareTable, type TargetTable } from '../../shared/postgres/target-table.ts';
import { decodeBatch } from '../../shared/producer/batch-object.ts';
import { processIntakeMessage } from '../../shared/producer/intake.ts';
import { STAGING, startProducerEmulator, type ProducerEmulator } from './producer-emulator.ts';
import { s3EventBody } from './s3-event.ts';

export interface LoadedFile {
  /** The file's counts, summed over its batches (rejected from the manifest). */
  counts: BatchCounts & { rejected: number };
  /** The file's quarantined rows, with their row numbers in the file. */
  failures: (RowFailure & { rowNumber: number; fileKey: string })[];
}

const ZERO: BatchCounts = { read: 0, collapsed: 0, inserted: 0, updated: 0, unchanged: 0, stale: 0, deleted: 0, quarantined: 0 };

/**
 * A file through the real pipeline without queues: the producer (its readers, header check and
 * partitioning against the table's catalog snapshot) in the S3/SQS emulator, then each batch
 * object through the consumer's apply, and through replay when the consumer's apply fails on
 * the data, as the DLQ would route it.
 */
export interface FileLoader {
  emulator: ProducerEmulator;
  /** Prepares a table (config fields as a test gives them) and publishes its snapshot to staging. */
  table(fields: Partial<TableConfigInput> & { table: string; conflictKey: string[] }): Promise<TargetTable>;
  load(target: TargetTable, key: string, body: string | Uint8Array): Promise<LoadedFile>;
}

export async function startFileLoader(sql: Sql): Promise<FileLoader> {
  const emulator = await startProducerEmulator();
  const configs = new Map<string, Partial<TableConfigInput> & { table: string; conflictKey: string[] }>();
  let dropped = 0;
  return {
    emulator,
    async table(fields) {
      configs.set(fields.table, fields);
      const config = parseConfig({ tables: [fields] }).tables[0]!;
      await migrateLedger(sql);
      const target = await prepareTable(sql, config);
      await emulator.publishSnapshot(snapshotOf(target, new Date()));
      return target;
    },
    async load(target, key, body) {
      const config = parseConfig({ tables: [...configs.values()] });
      const record = await emulator.drop(`${target.config.table}/f${++dropped}-${key}`, body);
      const [outcome] = await processIntakeMessage(emulator.deps(config), s3EventBody(record));
      if (outcome?.status !== 'produced') throw new Error(`the producer did not produce ${key}: ${JSON.stringify(outcome)}`);
      const counts = { ...ZERO, rejected: outcome.manifest.rejected ?? 0 };
      const failures: LoadedFile['failures'] = [];
      for (const b of outcome.manifest.batches) {
        const batch = await decodeBatch(await emulator.getBytes(STAGING, b.stagingKey));
        let result: { counts: BatchCounts };
        try {
          result = await applyBatch(sql, target, batch);
        } catch (error) {
          if (classifyPgError(error) !== ErrorClass.batchPoison) throw error;
          result = await replayBatch(sql, target, batch);
        }
        for (const k of Object.keys(ZERO) as (keyof BatchCounts)[]) counts[k] += result.counts[k];
      }
      // Every quarantined row of the file, whoever quarantined it (the consumer before binding, or replay).
      const quarantined = await sql<{ rowNumber: number; fileKey: string; sqlstate: string | null; constraint: string | null; column: string | null; message: string }[]>`
        SELECT row_number::int AS "rowNumber", file_key AS "fileKey", sqlstate, constraint_name AS constraint, column_name AS column, message
        FROM landfall.quarantine WHERE batch_id = ANY(${outcome.manifest.batches.map((b) => b.batchId)}::text[]) ORDER BY row_number`;
      failures.push(...quarantined.map((q) => ({ row: -1, ...q })));
      if (!countsAddUp(counts)) throw new Error(`the counts of ${key} do not add up: ${JSON.stringify(counts)}`);
      return { counts, failures };
    },
  };
}

/** Parquet files written by DuckDB (LIST, STRUCT, MAP, DECIMAL...), from a SELECT; one instance per test file. */
export async function startParquetWriter(): Promise<(select: string) => Promise<Buffer>> {
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  const dir = await mkdtemp(join(tmpdir(), 'landfall-parquet-'));
  afterAll(async () => {
    connection.closeSync();
    await rm(dir, { recursive: true, force: true });
  });
  let n = 0;
  return async (select) => {
    const path = join(dir, `f${++n}.parquet`);
    await connection.run(`COPY (${select}) TO '${path}' (FORMAT parquet)`);
    return readFile(path);
  };
}
