import { parquetMetadataAsync, parquetRead, parquetSchema, type AsyncBuffer, type FileMetaData, type SchemaElement } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { UnreadableFileError, UnreadableReason } from './errors.ts';
import type { SourceEvent } from './records.ts';
import { PARQUET_TEXT_PARSERS, textOfParquetValue, type TextValue } from './values.ts';

export type { AsyncBuffer } from 'hyparquet';

function decimalScale(element: SchemaElement): number | undefined {
  if (element.converted_type === 'DECIMAL' || element.logical_type?.type === 'DECIMAL') return element.scale ?? 0;
  return undefined;
}

/** Units per second of a TIME column (hyparquet leaves its values as integers), or undefined. */
function timeUnitsPerSecond(element: SchemaElement): bigint | undefined {
  const lt = element.logical_type;
  if (lt?.type === 'TIME') return lt.unit === 'MILLIS' ? 1000n : lt.unit === 'MICROS' ? 1_000_000n : 1_000_000_000n;
  if (element.converted_type === 'TIME_MILLIS') return 1000n;
  if (element.converted_type === 'TIME_MICROS') return 1_000_000n;
  return undefined;
}

/** A time of day from units since midnight: `HH:MM:SS.ffffff` (nanoseconds keep their nine digits). */
function timeOfDay(value: number | bigint, perSecond: bigint): string {
  const units = BigInt(value);
  const seconds = units / perSecond;
  const fraction = units % perSecond;
  const hh = String(seconds / 3600n).padStart(2, '0');
  const mm = String((seconds / 60n) % 60n).padStart(2, '0');
  const ss = String(seconds % 60n).padStart(2, '0');
  const digits = perSecond.toString().length - 1;
  return `${hh}:${mm}:${ss}${fraction ? `.${fraction.toString().padStart(digits, '0')}` : ''}`;
}

/**
 * Streams a Parquet file one row group at a time (memory is bounded by the largest row
 * group), with every codec of `hyparquet-compressors`. Nested values become JSON text,
 * timestamps keep all their digits, decimals every digit (hyparquet, patched, hands them over
 * unscaled), TIME a time of day. A file hyparquet cannot decode is unreadable (INTERVAL, say).
 */
export async function* readParquet(file: AsyncBuffer, options: { fromRowGroup?: number } = {}): AsyncGenerator<SourceEvent> {
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (error) {
    throw new UnreadableFileError(UnreadableReason.corruptParquet, `not a readable Parquet file: ${(error as Error).message}`, {}, { cause: error });
  }
  const fields = parquetSchema(metadata).children.map((child) => child.element);
  const names = fields.map((element) => element.name);
  const scales = fields.map(decimalScale);
  const timeUnits = fields.map(timeUnitsPerSecond);
  yield { kind: 'columns', names };
  let rowStart = 0;
  let bytes = 0;
  for (const [index, group] of metadata.row_groups.entries()) {
    const rowEnd = rowStart + Number(group.num_rows);
    bytes += group.columns.reduce((n, c) => n + Number(c.meta_data?.total_compressed_size ?? 0), 0);
    // A resumed read starts at a row group; the rows before it keep their numbers.
    if (index < (options.fromRowGroup ?? 0)) {
      rowStart = rowEnd;
      continue;
    }
    let rows: unknown[][] = [];
    try {
      await parquetRead({
        file,
        metadata,
        rowStart,
        rowEnd,
        compressors,
        parsers: PARQUET_TEXT_PARSERS,
        // A BYTE_ARRAY without a STRING annotation stays bytes (values.ts decides how it travels).
        utf8: false,
        onComplete: (result: unknown[][]) => {
          rows = result;
        },
      });
    } catch (error) {
      throw new UnreadableFileError(
        UnreadableReason.corruptParquet,
        `row group ${index} (rows ${rowStart + 1}-${rowEnd}) cannot be decoded: ${(error as Error).message}`,
        { line: rowStart + 1 },
        { cause: error },
      );
    }
    for (let r = 0; r < rows.length; r++) {
      const source = rows[r]!;
      const values: TextValue[] = new Array<TextValue>(names.length);
      for (let c = 0; c < names.length; c++) {
        const value = source[c];
        const scale = scales[c];
        const perSecond = timeUnits[c];
        values[c] =
          scale !== undefined && typeof value === 'number' && Math.abs(value) < 1e21
            ? value.toFixed(scale)
            : perSecond !== undefined && (typeof value === 'number' || typeof value === 'bigint')
              ? timeOfDay(value, perSecond)
              : textOfParquetValue(value);
      }
      const row = rowStart + r + 1;
      yield r === rows.length - 1 ? { kind: 'row', row, line: row, values, resume: { at: index + 1, bytes, lines: row } } : { kind: 'row', row, line: row, values };
    }
    rows = [];
    rowStart = rowEnd;
  }
}
