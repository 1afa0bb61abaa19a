import { UnreadableFileError, UnreadableReason } from './errors.ts';

/** How a file is read: delimited text, NDJSON (an object per line), a JSON array of objects, Parquet. */
export type FileFormat = 'csv' | 'ndjson' | 'json' | 'parquet';

export type Compression = 'gzip' | 'zstd' | 'bzip2';

export interface FileType {
  /** By the name; `ndjson` is any JSON name (.ndjson, .jsonl, .json), whose shape the bytes decide. */
  format: 'csv' | 'ndjson' | 'parquet';
  /** Named `.gz` (or `.zst`, `.bz2`); the bytes decide in the end (see `compressionOf`). */
  compressionByName: Compression | null;
  /** The delimiter the name suggests to `"delimiter": "auto"` (`.tsv` a tab, `.psv` a pipe). */
  delimiterHint?: string;
}

const EXTENSIONS: Record<string, { format: FileType['format']; delimiterHint?: string }> = {
  csv: { format: 'csv' },
  tsv: { format: 'csv', delimiterHint: '\t' },
  tab: { format: 'csv', delimiterHint: '\t' },
  psv: { format: 'csv', delimiterHint: '|' },
  txt: { format: 'csv' },
  ndjson: { format: 'ndjson' },
  jsonl: { format: 'ndjson' },
  json: { format: 'ndjson' },
  parquet: { format: 'parquet' },
};

const COMPRESSIONS: Record<string, Compression> = { gz: 'gzip', gzip: 'gzip', zst: 'zstd', zstd: 'zstd', bz2: 'bzip2' };

export const SUPPORTED_NAMES = '.csv, .tsv, .psv, .txt, .ndjson, .jsonl, .json or .parquet, optionally .gz, .zst or .bz2';

/**
 * The format a key's name says: `x.csv` (`.tsv`, `.psv`, `.txt`), `x.ndjson` (`.jsonl`, `.json`),
 * `x.parquet`, each optionally compressed (`.gz`, `.zst`, `.bz2`). Case-insensitive.
 *
 * @example fileTypeOfKey('orders/2024/a.ndjson.gz') // { format: 'ndjson', compressionByName: 'gzip' }
 */
export function fileTypeOfKey(key: string): FileType {
  const name = key.slice(key.lastIndexOf('/') + 1).toLowerCase();
  const parts = name.split('.');
  const compressionByName = parts.length > 2 ? (COMPRESSIONS[parts.at(-1)!] ?? null) : null;
  const ext = compressionByName ? parts.at(-2) : parts.length > 1 ? parts.at(-1) : undefined;
  const known = ext === undefined ? undefined : EXTENSIONS[ext];
  if (!known) throw new UnreadableFileError(UnreadableReason.unsupportedType, `unsupported file type "${name}": expected ${SUPPORTED_NAMES}`);
  return { format: known.format, compressionByName, ...(known.delimiterHint ? { delimiterHint: known.delimiterHint } : {}) };
}

export function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

export function isZstd(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd;
}

/** "BZh", a block size digit, then a block's magic (π) or the end-of-stream magic (√π). */
export function isBzip2(head: Uint8Array): boolean {
  if (head.length < 10 || head[0] !== 0x42 || head[1] !== 0x5a || head[2] !== 0x68 || head[3]! < 0x31 || head[3]! > 0x39) return false;
  const block = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
  const end = [0x17, 0x72, 0x45, 0x38, 0x50, 0x90];
  const magic = [...head.subarray(4, 10)];
  return magic.every((b, i) => b === block[i]) || magic.every((b, i) => b === end[i]);
}

/** The compression the first bytes show (at least 10 of them), or null: the bytes decide, whatever the name says. */
export function compressionOf(head: Uint8Array): Compression | null {
  if (isGzip(head)) return 'gzip';
  if (isZstd(head)) return 'zstd';
  if (isBzip2(head)) return 'bzip2';
  return null;
}

export function isParquetMagic(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x41 && head[2] === 0x52 && head[3] === 0x31;
}

/**
 * The shape of a JSON file by its first bytes: a top-level array (`[` first, after a BOM and
 * whitespace) or NDJSON (anything else: an object per line). The bytes decide whatever the name.
 */
export function jsonShapeOf(head: Uint8Array): 'json' | 'ndjson' {
  let i = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x09 || head[i] === 0x0a || head[i] === 0x0d)) i++;
  return head[i] === 0x5b ? 'json' : 'ndjson';
}
