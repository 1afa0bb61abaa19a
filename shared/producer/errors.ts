/** Why a whole file cannot be read; each code moves the file aside. */
export const UnreadableReason = {
  noTable: 'no-table',
  unsupportedType: 'unsupported-type',
  wrongFormat: 'wrong-format',
  unterminatedQuote: 'unterminated-quote',
  corruptGzip: 'corrupt-gzip',
  corruptParquet: 'corrupt-parquet',
  empty: 'empty',
  badHeader: 'bad-header',
  unknownColumn: 'unknown-column',
  missingColumn: 'missing-column',
} as const;
export type UnreadableReason = (typeof UnreadableReason)[keyof typeof UnreadableReason];

/**
 * A file the producer cannot read at all. The message names the file and, where there is
 * one, the line and the field; it never carries row values.
 */
export class UnreadableFileError extends Error {
  override name = 'UnreadableFileError';
  readonly code: UnreadableReason;
  readonly line: number | undefined;
  readonly field: string | undefined;
  constructor(code: UnreadableReason, message: string, details: { line?: number; field?: string } = {}, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.line = details.line;
    this.field = details.field;
  }
}
