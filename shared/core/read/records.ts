import type { TextValue } from './values.ts';

/**
 * Where a read can resume after a record (a checkpoint): set by a reader on the records after
 * which it could start again at `at` — a byte offset of its input for CSV and NDJSON, the
 * index of the next row group for Parquet.
 */
export interface ResumePoint {
  at: number;
  /** Input bytes consumed through the record (Parquet: the row groups' compressed bytes), to size segments. */
  bytes: number;
  /** Lines consumed through the record (Parquet: rows), to number the lines of a resumed read. */
  lines: number;
}

/** What a format reader yields, in file order. */
export type SourceEvent =
  /** The file's own column names (CSV header, first NDJSON object's fields, Parquet schema). */
  | { kind: 'columns'; names: string[]; resume?: ResumePoint }
  /** A data row: values in the order of `columns`. `row` is 1-based, the header not counted. */
  | { kind: 'row'; row: number; line: number; values: TextValue[]; resume?: ResumePoint }
  /** A row that could not be parsed; it still has a row number and counts as read. */
  | { kind: 'reject'; row: number; line: number; reason: string; raw: string; resume?: ResumePoint };

/** Longest raw text kept for a rejected row. */
export const MAX_REJECT_RAW_CHARS = 1024;
