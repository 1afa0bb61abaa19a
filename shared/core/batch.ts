import { createHash } from 'node:crypto';

/**
 * The identity of one dropped file: what makes two notifications "the same file".
 * A new version of an object (new version id or ETag) is a new file.
 */
export interface FileIdentity {
  bucket: string;
  key: string;
  /** S3 version id when the bucket is versioned, else null. */
  versionId: string | null;
  /** ETag without quotes. */
  etag: string;
  /** S3 event time (ISO 8601); orders files for the winner rule. */
  eventTime: string;
}

/**
 * One batch as the engine applies it: columnar, one array per column, all values as text
 * (PostgreSQL casts them to the catalog types). `null` is SQL NULL.
 */
export interface BatchData {
  /** Contract version of this shape. */
  format: 1;
  batchId: string;
  fileId: string;
  file: FileIdentity;
  /** The configured table name (as in the config's `table`). */
  table: string;
  partition: number;
  /** Chunk index within the partition. */
  chunk: number;
  /** Arrival of the file, a string that sorts (byte order) as the winner rule orders files. */
  arrival: string;
  /** Table column names (after the config's mapping); may include the tombstone column. */
  columns: string[];
  /** 1-based data row number in the file, per row. */
  rowNumbers: number[];
  /** values[c][r]: column c of row r. */
  values: (string | null)[][];
  /**
   * Values a record did not carry (an NDJSON object without that key), by column name: the
   * ascending row indexes (0-based, into this batch) where the column is absent; `values` holds
   * null there. An absent value leaves the stored column alone on update and takes the column's
   * default on insert; an explicit null writes NULL. Omitted (or empty) when every row carries
   * every column, as in every CSV and Parquet batch.
   */
  absent?: Record<string, number[]>;
}

function sha256(parts: readonly (string | number | null)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(`${part === null ? '\u0000null' : String(part)}\u0000`);
  return hash.digest('hex');
}

/**
 * S3's version id as Landfall keeps it: null when the object has none. S3 and emulators spell
 * "none" several ways (absent, `""`, and `"null"` for an unversioned or suspended bucket, as
 * moto's CompleteMultipartUpload answers), and all must give the same file id.
 */
export function versionIdOf(raw: unknown): string | null {
  return typeof raw === 'string' && raw !== '' && raw !== 'null' ? raw : null;
}

/** An ETag without the quotes S3 puts around it in headers and listings. */
export function etagOf(raw: unknown): string {
  return typeof raw === 'string' ? raw.replace(/"/g, '') : '';
}

/**
 * Deterministic id of a file: bucket + key + version id, or the ETag when there is no version.
 * The only place a file id is computed (producer, `landfall run`, tests): it normalises the
 * version id and ETag itself, so callers may hand in what S3 answered.
 *
 * @example fileIdOf({ bucket: 'inbox', key: 'orders/a.csv', versionId: put.VersionId, etag: put.ETag })
 */
export function fileIdOf(file: { bucket: string; key: string; versionId?: unknown; etag?: unknown }): string {
  const versionId = versionIdOf(file.versionId);
  return sha256(['file', file.bucket, file.key, versionId ?? `etag:${etagOf(file.etag)}`]).slice(0, 32);
}

/**
 * Deterministic batch id: hash(file identity, partition, chunk). Used as the SQS FIFO
 * MessageDeduplicationId (at most 128 characters) and as the ledger's primary key.
 */
export function batchIdOf(fileId: string, partition: number, chunk: number): string {
  return sha256(['batch', fileId, partition, chunk]).slice(0, 40);
}

/**
 * A string whose byte order is the file order of the winner rule: event time, then key.
 * The key is hex-encoded so that no character of it can sort against the separator.
 */
export function fileArrivalOf(file: Pick<FileIdentity, 'eventTime' | 'key'>): string {
  const time = new Date(file.eventTime);
  if (Number.isNaN(time.getTime())) throw new Error(`invalid event time ${JSON.stringify(file.eventTime)}`);
  return `${time.toISOString()}!${Buffer.from(file.key, 'utf8').toString('hex')}`;
}

/** Rows in a batch; throws when the columnar arrays disagree. */
export function batchRowCount(batch: Pick<BatchData, 'columns' | 'rowNumbers' | 'values' | 'batchId' | 'absent'>): number {
  const rows = batch.rowNumbers.length;
  if (batch.values.length !== batch.columns.length) {
    throw new Error(`batch ${batch.batchId}: ${batch.columns.length} columns but ${batch.values.length} value arrays`);
  }
  batch.values.forEach((column, i) => {
    if (column.length !== rows) {
      throw new Error(`batch ${batch.batchId}: column "${batch.columns[i]}" has ${column.length} values, expected ${rows}`);
    }
  });
  for (const [name, indexes] of Object.entries(batch.absent ?? {})) {
    const c = batch.columns.indexOf(name);
    if (c < 0) throw new Error(`batch ${batch.batchId}: absent values of column "${name}", which the batch does not carry`);
    let previous = -1;
    for (const r of indexes) {
      if (!Number.isInteger(r) || r <= previous || r >= rows) {
        throw new Error(`batch ${batch.batchId}: absent rows of column "${name}" must be ascending row indexes below ${rows}`);
      }
      if (batch.values[c]![r] !== null) throw new Error(`batch ${batch.batchId}: column "${name}" row ${r} is absent but has a value`);
      previous = r;
    }
  }
  return rows;
}

/** Counts kept per batch and per file (DESIGN.md rule 4). */
export interface BatchCounts {
  read: number;
  collapsed: number;
  inserted: number;
  updated: number;
  unchanged: number;
  stale: number;
  deleted: number;
  quarantined: number;
}

/** True when every row read is accounted for exactly once. */
export function countsAddUp(c: BatchCounts, rejected = 0): boolean {
  return c.read === rejected + c.collapsed + c.inserted + c.updated + c.unchanged + c.stale + c.deleted + c.quarantined;
}
