import type { TextValue } from './values.ts';

/** What a format reader yields, in file order. */
export type SourceEvent =
  /** The file's own column names (CSV header, first NDJSON object's fields, Parquet schema). */
  | { kind: 'columns'; names: string[] }
  /** A data row: values in the order of `columns`. `row` is 1-based, the header not counted. */
  | { kind: 'row'; row: number; line: number; values: TextValue[] }
  /** A row that could not be parsed; it still has a row number and counts as read. */
  | { kind: 'reject'; row: number; line: number; reason: string; raw: string };

/** Longest raw text kept for a rejected row. */
export const MAX_REJECT_RAW_CHARS = 1024;
