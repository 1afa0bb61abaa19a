import { UnreadableFileError, UnreadableReason } from './errors.ts';

export type FileFormat = 'csv' | 'ndjson' | 'parquet';

export interface FileType {
  format: FileFormat;
  /** Named `.gz`; the bytes decide in the end (see `isGzip`). */
  gzipByName: boolean;
}

const EXTENSIONS: Record<string, FileFormat> = {
  csv: 'csv',
  ndjson: 'ndjson',
  jsonl: 'ndjson',
  parquet: 'parquet',
};

/**
 * The format a key's name says: `x.csv`, `x.ndjson`, `x.jsonl`, `x.parquet`, each optionally
 * `.gz`. Case-insensitive.
 *
 * @example fileTypeOfKey('orders/2024/a.ndjson.gz') // { format: 'ndjson', gzipByName: true }
 */
export function fileTypeOfKey(key: string): FileType {
  const name = key.slice(key.lastIndexOf('/') + 1).toLowerCase();
  const parts = name.split('.');
  const gzipByName = parts.length > 2 && parts.at(-1) === 'gz';
  const ext = gzipByName ? parts.at(-2) : parts.length > 1 ? parts.at(-1) : undefined;
  const format = ext === undefined ? undefined : EXTENSIONS[ext];
  if (!format) {
    throw new UnreadableFileError(
      UnreadableReason.unsupportedType,
      `unsupported file type "${name}": expected .csv, .ndjson, .jsonl or .parquet, optionally .gz`,
    );
  }
  return { format, gzipByName };
}

export function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

export function isParquetMagic(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x41 && head[2] === 0x52 && head[3] === 0x31;
}
