import { type BatchData, batchIdOf, type FileIdentity, fileArrivalOf, fileIdOf } from '../../shared/batch.ts';

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
  const fileId = fileIdOf(file);
  const partition = options.partition ?? 0;
  const chunk = options.chunk ?? 0;
  const first = options.firstRow ?? 1;
  return {
    format: 1,
    batchId: batchIdOf(fileId, partition, chunk),
    fileId,
    file,
    table: options.table,
    partition,
    chunk,
    arrival: fileArrivalOf(file),
    columns,
    rowNumbers: options.rows.map((_, i) => first + i),
    values: columns.map((c) => options.rows.map((row) => (c in row ? row[c]! : null))),
  };
}
