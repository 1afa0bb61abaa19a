import { canonicalizerFor, type KeyColumnType } from './canonical-key.ts';
import { BlockScratch, EncodedBlockBuilder, type EncodedBlock } from './encoded-block.ts';
import type { FormatConfig } from './format-config.ts';
import { rowPartitioner } from './partition.ts';
import { readCsvEvents, type CsvDialect } from './read/read-csv.ts';
import { valueConverterOf, type ValueConverter } from './read/value-format.ts';
import type { TextValue } from './read/values.ts';

/**
 * What a block of a delimited text file needs to be read, partitioned and encoded on its own:
 * the file's dialect and header bytes, and what the producer planned from the header (its
 * columns, the key columns and their types, the table's partitions and number and date format).
 * Plain data, sent once per file to each worker thread.
 */
export interface CsvBlockJob {
  dialect: Partial<CsvDialect>;
  /** The bytes that hold the file's columns (the header, a BOM and the lines before it), read before each block. */
  prefix: Uint8Array;
  /** Lines in `prefix`. */
  prefixLines: number;
  /** The table column of each file column. */
  columns: readonly string[];
  keyIndexes: readonly number[];
  /** The key columns' types, or null: every row goes to partition 0. */
  keyTypes: KeyColumnType[] | null;
  timeZone: string;
  partitions: number;
  format: Pick<FormatConfig, 'decimal' | 'thousands' | 'dates'>;
  /** The columns that take numbers (for the profile's number format), or null when not known. */
  numericColumns: string[] | null;
}

/** One block: bytes of the file that start where a record may start (a line's start). */
export interface CsvBlockInput {
  bytes: Uint8Array;
  /** The code unit after the block (so a CR that ends it is known not to be a CRLF's half), or null at the end of the file. */
  lookahead: Uint8Array | null;
  /** The block ends the file: its last line is read as the file's last record. */
  final: boolean;
}

/** A row's partition from the plan (as the producer's own `partitionerOf`). */
export function blockPartitioner(job: Pick<CsvBlockJob, 'keyIndexes' | 'keyTypes' | 'timeZone' | 'partitions'>): (values: readonly TextValue[]) => number {
  if (!job.keyTypes || job.keyIndexes.some((i) => i < 0)) return () => 0;
  return rowPartitioner(
    job.keyTypes.map((k) => canonicalizerFor(k, job.timeZone)),
    job.keyIndexes,
    job.partitions,
  );
}

function blockConverter(job: CsvBlockJob): ValueConverter | null {
  const numeric = job.numericColumns;
  try {
    return valueConverterOf(job.format, job.columns, numeric ? (c) => numeric.includes(c) : null);
  } catch {
    // The producer refused the file before it split it (it checks the same profile first).
    return null;
  }
}

async function* bytesOf(parts: readonly (Uint8Array | null)[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) if (part && part.length > 0) yield part;
}

/**
 * Reads one block of a delimited text file as a read of the whole file would read those bytes
 * when a record starts at the block's start: each record (row or reject) it holds whole, its row
 * converted to the profile's number and date format, given its partition, and JSON-encoded as the
 * batch objects hold it. A record that runs past the block's end is not read (the block ends
 * before it: its last resume point says where); the producer reads on from there itself.
 * Numbers are counted from the block's start (see `EncodedBlock`); a reject's reason that quotes
 * numbers (a quote never closed, at the file's end) quotes them from there too.
 *
 * `scratch`: what the block is written into (`BlockScratch`), kept from block to block.
 *
 * @example const { block, transfer } = await encodeCsvBlock(job, { bytes, lookahead, final: false })
 */
export async function encodeCsvBlock(job: CsvBlockJob, input: CsvBlockInput, scratch: BlockScratch = new BlockScratch()): Promise<{ block: EncodedBlock; transfer: ArrayBuffer[] }> {
  const prefixBytes = job.prefix.length;
  const prefixLines = job.prefixLines;
  const events = readCsvEvents(bytesOf([job.prefix, input.bytes, input.final ? null : input.lookahead]), {
    dialect: job.dialect,
    resumed: { prefixBytes, rows: 0, lines: 0 },
    partial: !input.final,
  });
  const converter = blockConverter(job);
  const partitionOf = blockPartitioner(job);
  const builder = new EncodedBlockBuilder(job.partitions, job.columns.length, scratch);
  const end = input.bytes.length;
  for await (const batch of events) {
    for (const event of batch) {
      if (event.kind === 'columns') continue;
      const resume = event.resume ? { at: event.resume.at - prefixBytes, lines: event.resume.lines - prefixLines } : undefined;
      // The unit after the block is only there to end its last line: no record ends past the block.
      if (resume && resume.at > end) return builder.finish(false);
      if (event.kind === 'row') {
        converter?.convert(event.values);
        builder.addRow(partitionOf(event.values), event.row, event.values, resume);
      } else builder.addReject(event.row, event.line - prefixLines, event.reason, event.raw, resume);
    }
  }
  return builder.finish(input.final);
}
