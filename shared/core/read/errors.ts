/** Why a whole file cannot be read; each code moves the file aside. */
export const UnreadableReason = {
  noTable: 'no-table',
  unsupportedType: 'unsupported-type',
  wrongFormat: 'wrong-format',
  corruptGzip: 'corrupt-gzip',
  corruptParquet: 'corrupt-parquet',
  empty: 'empty',
  badHeader: 'bad-header',
  unknownColumn: 'unknown-column',
  missingColumn: 'missing-column',
  /** Not unreadable: still not read after the producer's per-file cap of invocations (a runaway chain of continuations). */
  tooManyInvocations: 'too-many-invocations',
  /** The header, split on the delimiter in effect, is one column that holds another common delimiter. */
  wrongDelimiter: 'wrong-delimiter',
  /** A byte order mark or bytes that do not fit the encoding in effect. */
  wrongEncoding: 'wrong-encoding',
  /** The table's `format` sets options that mean nothing for this kind of file (NDJSON, JSON, Parquet). */
  formatOption: 'format-option',
  /** zstd or bzip2 data that does not decompress. */
  corruptCompressed: 'corrupt-compressed',
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

/** What to do about a file moved aside for `code`, for `status` and receipts (docs/operations.md). */
export function fixForUnreadable(code: string | null): string {
  const drop = 'then drop the corrected file again';
  switch (code) {
    case UnreadableReason.noTable:
      return 'drop it under a configured table prefix (landfall drop FILE --table T), or add its prefix to the config; then `landfall forget FILE`';
    case UnreadableReason.unsupportedType:
      return `give it a supported name (.csv, .tsv, .psv, .txt, .ndjson, .jsonl, .json, .parquet, optionally .gz, .zst or .bz2), ${drop}`;
    case UnreadableReason.wrongDelimiter:
      return `set the table's "format": { "delimiter": … } to the one the reason names (or "auto"), ${drop}`;
    case UnreadableReason.wrongEncoding:
      return `set the table's "format": { "encoding": … } to the one the reason names, or re-export the file in UTF-8; ${drop}`;
    case UnreadableReason.formatOption:
      return `drop the file under a table whose "format" has only the options this kind of file uses, or re-export it as CSV; ${drop}`;
    case UnreadableReason.wrongFormat:
    case UnreadableReason.corruptGzip:
    case UnreadableReason.corruptCompressed:
    case UnreadableReason.corruptParquet:
      return `re-export the file so that its bytes match its name, ${drop}`;
    case UnreadableReason.empty:
      return `the file has no data: check the export upstream, ${drop}`;
    case UnreadableReason.badHeader:
      return `fix the header line, ${drop}`;
    case UnreadableReason.unknownColumn:
      return `map the column in the table's "columns", add it to the table, or set "schema": "evolve"; ${drop}`;
    case UnreadableReason.missingColumn:
      return `the key and version columns must be in every file: add the column (or its "columns" mapping), ${drop}`;
    case UnreadableReason.tooManyInvocations:
      return 'split the file into smaller ones and drop those, or raise the cap (-c landfall:producerMaxInvocationsPerFile=N, then cdk deploy) and drop it again; rows already loaded come out unchanged';
    default:
      return `see the reason, ${drop}`;
  }
}
