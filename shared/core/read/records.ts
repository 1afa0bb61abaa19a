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
  /**
   * The file's own column names (CSV header, Parquet schema, the keys of the JSON objects seen so
   * far). `extends`: JSON objects brought keys not seen before; `names` is then every key so far,
   * the earlier ones first, in the same order.
   */
  | { kind: 'columns'; names: string[]; resume?: ResumePoint; extends?: true }
  /**
   * A data row: values in the order of `columns`. `row` is 1-based, the header not counted.
   * `absent`: the indexes of the columns the record did not carry (a JSON object without that
   * key), ascending; `values` holds null there, and `values` may be shorter than the columns
   * known later (the columns past its end are absent too). An explicit JSON `null` is carried.
   * `raw`: a JSON object's text, for the reject the producer makes of an object it refuses.
   */
  | { kind: 'row'; row: number; line: number; values: TextValue[]; resume?: ResumePoint; absent?: number[]; raw?: string }
  /** A row that could not be parsed; it still has a row number and counts as read. */
  | { kind: 'reject'; row: number; line: number; reason: string; raw: string; resume?: ResumePoint };

/** Longest raw text kept for a rejected row. */
export const MAX_REJECT_RAW_CHARS = 1024;
