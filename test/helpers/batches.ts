import { type BatchData, batchIdOf, type FileIdentity, fileArrivalOf, fileIdOf } from '../../shared/core/batch.ts';

export interface BatchOptions {
  table: string;
  /** Rows as objects; every row must have the same keys (the batch's columns). */
  rows: Record<string, string | null>[];
  key?: string;
  eventTime?: string;
  bucket?: string;
  partition?: number;
  chunk?: number;
  /** Row number of the first row (1-based). */
  firstRow?: number;
}

let fileCounter = 0;

/** A file identity; each call is a new file unless `key` and `etag` repeat. */
export function fileIdentity(overrides: Partial<FileIdentity> = {}): FileIdentity {
  fileCounter++;
  return {
    bucket: 'inbox',
    key: `test/file-${fileCounter}.csv`,
    versionId: null,
    etag: `etag-${fileCounter}`,
    eventTime: new Date(Date.UTC(2026, 0, 1, 0, 0, fileCounter)).toISOString(),
    ...overrides,
  };
}

/** Builds a columnar batch from row objects, with the ids the producer would give it. */
export function makeBatch(options: BatchOptions, file: FileIdentity = fileIdentity()): BatchData {
  const columns = Object.keys(options.rows[0] ?? {});
  const values = columns.map((c) => options.rows.map((row) => (c in row ? row[c]! : null)));
  return batchOfColumns(options.table, file, columns, values, options);
}

/** A batch of `file` from column-major values, as the producer writes one; rows numbered from `firstRow`. */
export function batchOfColumns(
  table: string,
  file: FileIdentity,
  columns: readonly string[],
  values: (string | null)[][],
  at: { partition?: number; chunk?: number; firstRow?: number } = {},
): BatchData {
  const fileId = fileIdOf(file);
  const partition = at.partition ?? 0;
  const chunk = at.chunk ?? 0;
  const first = at.firstRow ?? 1;
  return {
    format: 1,
    batchId: batchIdOf(fileId, partition, chunk),
    fileId,
    file,
    table,
    partition,
    chunk,
    arrival: fileArrivalOf(file),
    columns: [...columns],
    rowNumbers: Array.from({ length: values[0]?.length ?? 0 }, (_, i) => first + i),
    values,
  };
}

/**
 * 1,000 order rows for customers 1..10, six of them bad: bad dates at rows 100 (22008), 500
 * (22007) and 900 (22008), NULL notes at rows 200 and 300 (23502), and at row 700 a customer
 * that does not exist (`missingCustomer`, 23503).
 */
export function ordersWithSixBadRows(missingCustomer = '11'): Record<string, string | null>[] {
  const rows = Array.from({ length: 1000 }, (_, i) => ({ id: String(i + 1), customer_id: String((i % 10) + 1), placed: '2026-03-01', note: 'ok' as string | null }));
  rows[99]!.placed = '2026-02-30';
  rows[499]!.placed = 'not a date';
  rows[899]!.placed = '31/12/2026';
  rows[199]!.note = null;
  rows[299]!.note = null;
  rows[699]!.customer_id = missingCustomer;
  return rows;
}

/**
 * A batch of objects that may differ in their keys, as the producer cuts one from NDJSON: the
 * columns are every key in order of first appearance; a key an object does not carry is absent
 * in that row (BatchData.absent, null in `values`), an explicit null is a NULL value.
 */
export function batchOfObjects(
  table: string,
  objects: readonly Record<string, string | null>[],
  file: FileIdentity = fileIdentity(),
  at: { partition?: number; chunk?: number; firstRow?: number } = {},
): BatchData {
  const columns = [...new Set(objects.flatMap((o) => Object.keys(o)))];
  const values = columns.map((c) => objects.map((o) => o[c] ?? null));
  const absent = Object.fromEntries(
    columns.map((c) => [c, objects.flatMap((o, r) => (c in o ? [] : [r]))] as const).filter(([, rows]) => rows.length > 0),
  );
  return { ...batchOfColumns(table, file, columns, values, at), ...(Object.keys(absent).length ? { absent } : {}) };
}
